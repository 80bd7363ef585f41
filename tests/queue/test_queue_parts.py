"""The queue's parts in one process: settings, jobs, dispatchers, the Channels event bus, the worker's job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.exceptions import ImproperlyConfiguredException

from litestar_workflows import InMemoryEventBus, InProcessDispatcher, WorkflowPlugin, WorkflowPluginConfig
from litestar_workflows.engine.roles import EngineRole, TokenRun
from litestar_workflows.queue import WorkflowQueueConfig
from litestar_workflows.queue.dispatcher import JOB_NAME, QueueDispatcher, WorkerDispatcher, token_job
from litestar_workflows.queue.events import ChannelsEventBus
from litestar_workflows.queue.jobs import WorkerRuntime, token_job_function


class FakeQueue:
    """Takes jobs like SAQ's queue (``None`` for a duplicate key), or fails like a queue that is down."""

    def __init__(self, failing: bool = False) -> None:
        self.jobs: dict[str, Any] = {}
        self.failing = failing

    async def enqueue(self, job: Any) -> Any:
        if self.failing:
            raise ConnectionError("queue down")
        if job.key in self.jobs:
            return None
        self.jobs[job.key] = job
        return job


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"url": "sqlite:///x"}, "redis:// or postgresql://"),
        ({"url": "postgresql+asyncpg://h/db"}, "redis:// or postgresql://"),
        ({"url": "redis://h", "concurrency": 0}, "concurrency"),
        ({"url": "postgresql://h/db", "concurrency": 10, "pool_max_size": 10}, "must exceed concurrency"),
    ],
)
def test_bad_queue_settings_are_refused_with_the_reason(options: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ImproperlyConfiguredException, match=complaint):
        WorkflowQueueConfig(**options)


def test_the_backend_comes_from_the_url() -> None:
    assert WorkflowQueueConfig("redis://h:6379/0").backend == "redis"
    postgres = WorkflowQueueConfig("postgres://u@h/db")
    assert (postgres.backend, postgres.libpq_url) == ("postgres", "postgresql://u@h/db")


def test_a_job_carries_ids_only_and_never_lets_saq_cancel_a_step() -> None:
    instance_id = uuid4()
    at = datetime(2030, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
    job = token_job(instance_id, "t3", at, 2, heartbeat=60, grouped=True)
    assert job.function == JOB_NAME
    assert job.kwargs == {"instance_id": str(instance_id), "token_id": "t3", "attempt": 2}
    assert (job.timeout, job.retries, job.heartbeat) == (0, 1, 60)
    assert job.scheduled == int(at.timestamp()) + 1, "a timer job never runs before its time"
    assert job.group_key == str(instance_id)
    assert token_job(instance_id, "t3", None, 0, heartbeat=60, grouped=False).group_key is None


async def test_dispatches_dedupe_and_a_failed_enqueue_is_left_to_recovery(caplog: pytest.LogCaptureFixture) -> None:
    queue = FakeQueue()
    dispatcher = QueueDispatcher(queue, heartbeat=60, grouped=False)  # type: ignore[arg-type]
    instance_id = uuid4()
    dispatcher.dispatch(instance_id, "t1")
    dispatcher.dispatch(instance_id, "t1")
    await dispatcher.close()
    assert len(queue.jobs) == 1
    dispatcher.dispatch(instance_id, "t2")  # closed: the token stays committed for recovery
    assert len(queue.jobs) == 1
    down = QueueDispatcher(FakeQueue(failing=True), heartbeat=60, grouped=False)  # type: ignore[arg-type]
    assert await down.enqueue(instance_id, "t1", None) is False
    assert "recovery will run it" in caplog.text


async def test_a_worker_runs_what_it_holds_and_enqueues_the_rest() -> None:
    queue = FakeQueue()
    ran: list[str] = []

    async def run(instance_id: UUID, token_id: str) -> None:
        ran.append(token_id)

    held = uuid4()
    dispatcher = WorkerDispatcher(
        lambda instance_id: instance_id == held,
        InProcessDispatcher(run),
        QueueDispatcher(queue, heartbeat=60, grouped=False),  # type: ignore[arg-type]
    )
    dispatcher.dispatch(held, "here")
    dispatcher.dispatch(held, "timer", datetime.now(UTC) + timedelta(hours=1))
    dispatcher.dispatch(uuid4(), "elsewhere")
    await asyncio.sleep(0.01)
    await dispatcher.close(1.0)
    assert ran == ["here"]
    assert sorted(job.kwargs["token_id"] for job in queue.jobs.values()) == ["elsewhere", "timer"]


async def test_events_published_on_the_channel_reach_this_process() -> None:
    channels = ChannelsPlugin(backend=MemoryChannelsBackend(), channels=["events"])
    local = InMemoryEventBus()
    bus = ChannelsEventBus(channels, "events", local)
    changed: list[UUID] = []

    async def on_change(instance_id: UUID) -> None:
        changed.append(instance_id)

    instance_id = uuid4()
    async with channels, bus.listening(on_change), local.subscribe(instance_id) as received:
        await channels.wait_published(b"not an event", "events")
        await bus.emit("step.succeeded", instance_id=instance_id, step_name="left")
        event = await asyncio.wait_for(received.get(), 5)
    assert (event.event_type, event.instance_id, event.payload) == (
        "step.succeeded",
        instance_id,
        {"step_name": "left"},
    )
    assert changed == [instance_id]


class HeldEngine:
    """An engine whose instances are all held by another worker."""

    lease_seconds = 30.0

    async def run_token(self, instance_id: UUID, token_id: str) -> TokenRun:
        return TokenRun.HELD_ELSEWHERE


async def test_a_job_whose_instance_is_held_elsewhere_is_rescheduled() -> None:
    queue = FakeQueue()
    dispatcher = QueueDispatcher(queue, heartbeat=60, grouped=False)  # type: ignore[arg-type]
    runtime = WorkerRuntime(HeldEngine(), dispatcher, heartbeat=3, held_retry_delay=0.5)  # type: ignore[arg-type]
    job = token_job_function(lambda: runtime)
    instance_id = uuid4()
    assert await job({}, instance_id=str(instance_id), token_id="t1", attempt=3) == "held_elsewhere"
    (later,) = queue.jobs.values()
    assert later.kwargs["attempt"] == 4
    assert later.scheduled >= int(datetime.now(UTC).timestamp()) + 3, "tries back off (0.5 s doubled per try)"
    with pytest.raises(RuntimeError, match="not running"):
        await token_job_function(lambda: None)({}, instance_id=str(instance_id), token_id="t1")


def test_with_a_queue_the_plugin_serves_in_the_web_role_and_adds_saq() -> None:
    from litestar import Litestar
    from litestar_saq import SAQPlugin

    plugin = WorkflowPlugin(WorkflowPluginConfig(queue=WorkflowQueueConfig("redis://127.0.0.1:6379/7")))
    assert plugin.engine.rules.role is EngineRole.WEB
    assert isinstance(plugin.engine.dispatcher, QueueDispatcher)
    app = Litestar(plugins=[plugin])
    assert app.plugins.get(SAQPlugin) is not None


def test_the_expense_example_runs_in_queue_mode_when_given_a_queue_url() -> None:
    from litestar_saq import SAQPlugin

    from examples.expense.app import create_app

    queued = create_app(database_url="postgresql+asyncpg://app@db/app", queue_url="postgresql://app@db/app")
    assert queued.plugins.get(WorkflowPlugin).engine.rules.role is EngineRole.WEB
    assert queued.plugins.get(SAQPlugin) is not None
    in_process = create_app(database_url="sqlite+aiosqlite:///:memory:")
    assert in_process.plugins.get(WorkflowPlugin).engine.rules.role is EngineRole.BOTH
