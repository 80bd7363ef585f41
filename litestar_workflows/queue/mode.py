"""The queue deployment of a ``WorkflowPlugin``: SAQ and Channels plugins, per-role engines, worker hooks.

The plugin hands over three things when ``WorkflowPluginConfig.queue`` is set: the app config
(the SAQ plugin joins the app, so ``litestar workers run`` exists), each engine it builds (which
gets the dispatcher of its role and the shared event bus) and each run of an engine (Channels up
to publish events; in the web role also the queue connected and the event channel listened to),
whoever runs it: the app's lifespan, a SAQ worker, the CLI.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar.channels import ChannelsPlugin
from litestar_saq import QueueConfig, SAQConfig, SAQPlugin

from litestar_workflows.engine.dispatch import InProcessDispatcher
from litestar_workflows.engine.engine import LocalExecutionEngine
from litestar_workflows.engine.roles import EngineRole, RoleRules
from litestar_workflows.queue.config import WorkflowQueueConfig
from litestar_workflows.queue.dispatcher import QueueDispatcher, WorkerDispatcher
from litestar_workflows.queue.events import ChannelsEventBus
from litestar_workflows.queue.jobs import WorkerRuntime, token_job_function

if TYPE_CHECKING:
    from litestar.channels.backends.base import ChannelsBackend
    from litestar.config.app import AppConfig
    from saq.queue.base import Queue
    from saq.types import Context

    from litestar_workflows.plugin import WorkflowPlugin

__all__ = ("QueueMode",)


def _channels_backend(config: WorkflowQueueConfig) -> ChannelsBackend:
    """The Channels backend on the queue's own server: Redis pub/sub, or PostgreSQL LISTEN/NOTIFY."""
    if config.backend == "redis":
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        return RedisChannelsPubSubBackend(redis=Redis.from_url(config.url))
    from litestar.channels.backends.asyncpg import AsyncPgChannelsBackend

    return AsyncPgChannelsBackend(dsn=config.libpq_url)


class QueueMode:
    """Everything a queue adds to one plugin: built once, with the plugin."""

    __slots__ = ("_channels", "_plugin", "_runtime", "_saq", "_worker_stack", "config", "event_bus")

    def __init__(self, config: WorkflowQueueConfig, plugin: WorkflowPlugin) -> None:
        self.config = config
        self._plugin = plugin
        grace_period = plugin.config.engine_config.grace_period
        self._channels = ChannelsPlugin(backend=_channels_backend(config), channels=[config.channel])
        self.event_bus = ChannelsEventBus(self._channels, config.channel, plugin.event_bus)
        """The bus every engine of the plugin publishes on (and the web role listens to)."""
        pool: dict[str, Any] = {}
        if config.backend == "postgres":
            pool = {"min_size": 2, "max_size": config.pool_max_size or config.concurrency + 5}
        self._saq = SAQPlugin(
            SAQConfig(
                queue_configs=[
                    QueueConfig(
                        dsn=config.libpq_url,
                        name=config.name,
                        tasks=[token_job_function(lambda: self._runtime)],
                        concurrency=config.concurrency,
                        startup=[self._start_worker],
                        shutdown=[self._stop_worker],
                        broker_instance_options=pool,
                        shutdown_grace_period_s=max(1, round(grace_period)),
                    )
                ]
            )
        )
        self._worker_stack: AsyncExitStack | None = None
        self._runtime: WorkerRuntime | None = None

    @property
    def queue(self) -> Queue:
        """The SAQ queue (the same object the SAQ worker of this process consumes)."""
        return self._saq.get_queue(self.config.name)

    def on_app_init(self, app_config: AppConfig) -> None:
        """Add the SAQ plugin: its ``litestar workers run`` starts worker processes of this app."""
        app_config.plugins.append(self._saq)

    def attach(self, engine: LocalExecutionEngine) -> None:
        """Give a new engine the dispatcher of its role, and recovery that leaves the queue time to deliver."""
        engine.rules = RoleRules(engine.rules.role, self.config.recovery_grace)
        queue = QueueDispatcher(self.queue, heartbeat=self.config.heartbeat, grouped=self.config.backend == "postgres")
        if engine.rules.role is EngineRole.WEB:
            engine.dispatcher = queue
        else:
            engine.dispatcher = WorkerDispatcher(engine.holds_lease, InProcessDispatcher(engine.run_token), queue)

    @contextlib.asynccontextmanager
    async def running(self, role: EngineRole) -> AsyncIterator[None]:
        """While an engine runs: Channels up (to publish); for the web role the queue connected
        (to enqueue; SAQ connects a worker's) and the channel listened to (streams, ``wait_for``)."""
        async with self._channels:
            if role is not EngineRole.WEB:
                yield
                return
            queue = self.queue
            await queue.connect()
            try:

                async def changed(instance_id: UUID) -> None:
                    await self._plugin.engine.changed_elsewhere(instance_id)

                async with self.event_bus.listening(changed):
                    yield
            finally:
                await queue.disconnect()

    async def _start_worker(self, ctx: Context) -> None:
        """SAQ worker start-up: an engine in the worker role, for as long as the worker runs."""
        stack = AsyncExitStack()
        engine = await stack.enter_async_context(self._plugin.run_engine(role=EngineRole.WORKER))
        assert isinstance(engine.dispatcher, WorkerDispatcher)
        config = self.config
        self._runtime = WorkerRuntime(
            engine, engine.dispatcher.queue, heartbeat=config.heartbeat, held_retry_delay=config.held_retry_delay
        )
        self._worker_stack = stack

    async def _stop_worker(self, ctx: Context) -> None:
        """SAQ worker shutdown: stop the engine (its leases released, its events flushed)."""
        self._runtime = None
        stack, self._worker_stack = self._worker_stack, None
        if stack is not None:
            await stack.aclose()
