"""``WorkflowPlugin``: the registry, engine, persistence, REST API, CLI and lifespan, wired into Litestar.

Three lines give an app durable workflows::

    from litestar import Litestar
    from litestar_workflows import WorkflowPlugin, WorkflowPluginConfig

    app = Litestar(plugins=[WorkflowPlugin(WorkflowPluginConfig(workflows=[ExpenseApproval]))])

Handlers of the host app receive the engine with
``workflow_engine: NamedDependency[LocalExecutionEngine]``; code outside requests reaches it
through ``app.plugins.get(WorkflowPlugin).engine``.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from litestar import Request, Router
from litestar.di import Provide
from litestar.exceptions import ImproperlyConfiguredException
from litestar.plugins import CLIPlugin, InitPlugin
from litestar.types import ExceptionHandlersMap

from litestar_workflows.config import SQLPersistenceConfig, WorkflowPluginConfig
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.engine.engine import LocalExecutionEngine
from litestar_workflows.engine.events import InMemoryEventBus
from litestar_workflows.engine.persistence import WorkflowPersistence
from litestar_workflows.engine.registry import WorkflowRegistry
from litestar_workflows.engine.roles import EngineRole
from litestar_workflows.lifespan_order import EngineLifespanPlugin
from litestar_workflows.policy import WorkflowPolicy
from litestar_workflows.web import schemas
from litestar_workflows.web.access import api_gate, gate_middleware
from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.controllers import (
    DefinitionsController,
    HealthController,
    InstancesController,
    TasksController,
)
from litestar_workflows.web.errors import exception_handlers_for
from litestar_workflows.web.events import StreamsEnd
from litestar_workflows.web.identity import Identity
from litestar_workflows.web.params import checked_request_class
from litestar_workflows.web.termination import on_termination

if TYPE_CHECKING:
    from click import Group
    from litestar import Litestar
    from litestar.config.app import AppConfig

    from litestar_workflows.queue.mode import QueueMode

__all__ = ("WorkflowPlugin",)

logger = logging.getLogger("litestar_workflows.plugin")


class WorkflowPlugin(InitPlugin, CLIPlugin):
    """Durable workflows for a Litestar app.

    Args:
        config: The plugin's configuration; the defaults when None.
    """

    __slots__ = (
        "_api",
        "_build_persistence",
        "_config",
        "_engine",
        "_engine_used",
        "_event_bus",
        "_queue_mode",
        "_registry",
        "_streams_end",
    )

    def __init__(self, config: WorkflowPluginConfig | None = None) -> None:
        self._config = config if config is not None else WorkflowPluginConfig()
        self._registry = WorkflowRegistry()
        for workflow in self._config.workflows:
            if isinstance(workflow, WorkflowDefinition):
                self._registry.register_definition(workflow)
            else:
                self._registry.register(workflow)
        self._event_bus = InMemoryEventBus()
        self._queue_mode: QueueMode | None = None
        if self._config.queue is not None:
            from litestar_workflows.queue.mode import QueueMode  # needs the saq extra

            self._queue_mode = QueueMode(self._config.queue, self)
        self._build_persistence = self._persistence_factory()
        persistence = self._config.persistence if self._build_persistence is None else self._build_persistence()
        assert persistence is not None
        self._engine = self._new_engine(persistence)
        self._engine_used = False
        self._streams_end = StreamsEnd()
        self._api = WorkflowApi(lambda: self._engine, self._event_bus, self._config, self._streams_end)

    # --- what the app and its handlers use ------------------------------------------------------

    @property
    def config(self) -> WorkflowPluginConfig:
        """The plugin's configuration."""
        return self._config

    @property
    def engine(self) -> LocalExecutionEngine:
        """The engine (a new one after each restart of the app: a stopped engine takes no work)."""
        return self._engine

    @property
    def registry(self) -> WorkflowRegistry:
        """The workflow definitions the engine can run."""
        return self._registry

    @property
    def persistence(self) -> WorkflowPersistence:
        """Where instances and tasks live."""
        return self._engine.persistence

    @property
    def event_bus(self) -> InMemoryEventBus:
        """The engine's events in this process (what the SSE endpoint streams)."""
        return self._event_bus

    @property
    def signature_namespace(self) -> dict[str, Any]:
        """Names handlers may use in string annotations without importing them."""
        namespace: dict[str, Any] = {
            "LocalExecutionEngine": LocalExecutionEngine,
            "WorkflowRegistry": WorkflowRegistry,
            "WorkflowPersistence": WorkflowPersistence,
            "WorkflowApi": WorkflowApi,
            "Identity": Identity,
            "WorkflowPolicy": WorkflowPolicy,
        }
        namespace.update({name: getattr(schemas, name) for name in schemas.__all__ if name[0].isupper()})
        return namespace

    # --- Litestar hooks -------------------------------------------------------------------------

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register the DI providers, the API router, error handlers and the engine's lifespan."""
        config = self._config
        for key in (config.engine_dependency_key, config.registry_dependency_key):
            if key in app_config.dependencies:
                msg = f"the dependency key {key!r} is already used by the app; choose another in WorkflowPluginConfig"
                raise ImproperlyConfiguredException(msg)
        app_config.dependencies[config.engine_dependency_key] = Provide(self._provide_engine(), sync_to_thread=False)
        app_config.dependencies[config.registry_dependency_key] = Provide(
            self._provide_registry(), sync_to_thread=False
        )
        app_config.signature_namespace.update(self.signature_namespace)
        if config.enable_api:
            # The API's own routes always answer engine errors with 4xx, whatever the app-wide setting.
            app_config.route_handlers.append(
                self._build_router(
                    exception_handlers_for(app_config.exception_handlers),
                    checked_request_class(app_config.request_class),
                )
            )
            app_config.route_handlers.append(self._build_health_router())
        if config.ui is not None:
            from litestar_workflows.ui.router import ui_routers  # needs the ui extra (Jinja2)

            app_config.route_handlers.extend(ui_routers(self._api, config, app_config))
        if config.set_exception_handlers:
            app_config.exception_handlers.update(exception_handlers_for(app_config.exception_handlers))
        # Appended plugins are initialised after every plugin the user listed, so the lifespan the
        # inner plugin adds comes after advanced-alchemy's: the engine starts after the database
        # is up and stops before it goes down.
        if self._queue_mode is not None:
            self._queue_mode.on_app_init(app_config)  # `litestar workers run`
        app_config.plugins.append(EngineLifespanPlugin(self._config, self.lifespan))
        return app_config

    def on_cli_init(self, cli: Group) -> None:
        """Add ``litestar workflows ...``."""
        from litestar_workflows.cli import workflows_group

        cli.add_command(workflows_group)

    def end_event_streams(self) -> None:
        """End open event streams now (they end on SIGTERM/SIGINT; other servers call this as shutdown begins)."""
        self._streams_end.now()

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        """The app's lifespan: run the engine (with recovery) while the app is up.

        Open event streams end on SIGTERM or SIGINT, and in any case before the engine stops.
        """
        if self._config.allow_anonymous and self._config.enable_api:
            logger.warning(
                "allow_anonymous is on: callers without an identity may use the workflow API at %s "
                "(meant for local development)",
                self._config.path,
            )
        self._streams_end.reset()
        restore_signals = on_termination(self.end_event_streams)
        try:
            async with self.run_engine():
                if self._config.freeze_gc:  # what start-up built lives as long as the app: not worth walking again
                    gc.collect()
                    gc.freeze()
                try:
                    yield
                finally:
                    self.end_event_streams()
        finally:
            restore_signals()

    @asynccontextmanager
    async def run_engine(
        self, *, recover: bool = True, role: EngineRole | None = None
    ) -> AsyncIterator[LocalExecutionEngine]:
        """Run the engine for the duration of the context (the lifespan, the CLI, a worker script).

        With ``recover``, committed work (crashed instances, due timers) is resumed and claimed
        continually; without, only work started through this engine runs (the CLI's mode).
        On exit, running steps get ``engine_config.grace_period`` seconds; the rest is left to recovery.
        ``role`` (``engine.roles``): by default ``BOTH``, or ``WEB`` with a queue (its workers run ``WORKER``).
        """
        if self._engine_used or (role is not None and role is not self._engine.rules.role):
            persistence = self._engine.persistence if self._build_persistence is None else self._build_persistence()
            self._engine = self._new_engine(persistence, role)
        self._engine_used = True
        engine = self._engine
        try:
            await self._open_persistence(engine.persistence)
        except BaseException:
            # Nothing ran yet (tables missing, definitions changed...): stopping the engine would
            # only touch the database again and repeat the error.
            await self._close_persistence(engine.persistence)
            raise
        try:
            async with nullcontext() if self._queue_mode is None else self._queue_mode.running(engine.rules.role):
                try:
                    if recover:
                        await engine.start()  # logs how many instances it resumed
                    yield engine
                finally:
                    await engine.stop(self._config.engine_config.grace_period)
        finally:
            await self._close_persistence(engine.persistence)

    # --- plumbing -------------------------------------------------------------------------------

    # Providers are closures, not bound methods: Litestar deep-copies a Router when it is
    # registered, and deep-copying a bound method would copy the plugin (engine, bus and all).

    def _provide_engine(self) -> Callable[[], LocalExecutionEngine]:
        def provide_engine() -> LocalExecutionEngine:
            return self._engine

        return provide_engine

    def _provide_registry(self) -> Callable[[], WorkflowRegistry]:
        registry = self._registry

        def provide_registry() -> WorkflowRegistry:
            return registry

        return provide_registry

    def _provide_api(self) -> Callable[[], WorkflowApi]:
        api = self._api

        def provide_api() -> WorkflowApi:
            return api

        return provide_api

    def _build_router(
        self, exception_handlers: ExceptionHandlersMap, request_class: type[Request[Any, Any, Any]]
    ) -> Router:
        config = self._config
        gate = api_gate(config.identity_resolver, allow_anonymous=config.allow_anonymous)
        return Router(
            path=config.path,
            route_handlers=[DefinitionsController, InstancesController, TasksController],
            # The gate first, ahead of every guard: no route of the API, present or future, is reachable
            # without it. The routes find the API and their caller in the request's state (``api_call``).
            middleware=[gate_middleware(gate, self._api)],
            guards=list(config.api_guards),
            tags=list(config.api_tags),
            include_in_schema=config.include_in_schema,
            request_max_body_size=config.max_body_size,
            request_class=request_class,  # JSON bodies checked as they are decoded (web.params)
            exception_handlers=exception_handlers,
        )

    def _build_health_router(self) -> Router:
        """``GET {path}/health`` on a router of its own, outside ``api_guards``: probes carry no credentials."""
        return Router(
            path=self._config.path,
            route_handlers=[HealthController],
            dependencies={"workflow_api": Provide(self._provide_api(), sync_to_thread=False)},
            tags=list(self._config.api_tags),
            include_in_schema=self._config.include_in_schema,
        )

    def _new_engine(self, persistence: WorkflowPersistence, role: EngineRole | None = None) -> LocalExecutionEngine:
        config, mode = self._config, self._queue_mode
        engine = LocalExecutionEngine(
            self._registry,
            persistence,
            self._event_bus if mode is None else mode.event_bus,
            lease_seconds=config.engine_config.lease_seconds,
            poll_interval=config.engine_config.poll_interval,
            admin_role=config.admin_role,
            role=role or (EngineRole.BOTH if mode is None else EngineRole.WEB),
        )
        if mode is not None:
            mode.attach(engine)  # the dispatcher of its role, and the queue's recovery grace
        return engine

    def _persistence_factory(self) -> Callable[[], WorkflowPersistence] | None:
        """How the plugin builds its SQL persistence; None when the app passed its own persistence.

        A persistence the plugin builds is closed when the engine stops and built anew when the
        app starts again (its connections and writer belong to the event loop that ran them).
        """
        config = self._config
        if config.persistence is not None:
            return None
        sqlalchemy_config = config.sqlalchemy_config
        settings = config.persistence_config or SQLPersistenceConfig()

        def build() -> WorkflowPersistence:
            from litestar_workflows.db import SQLAlchemyPersistence

            return SQLAlchemyPersistence(
                sqlalchemy_config,
                url=None if sqlalchemy_config is not None else config.database_url,
                # the plugin's own database always gets its tables; the host's only when asked
                create_all=config.create_all if sqlalchemy_config is not None else True,
                max_batch=settings.max_batch,
                sqlite_synchronous=settings.sqlite_synchronous,
                pool_size=settings.pool_size,
                flush_every_commit=settings.flush_every_commit,
            )

        return build

    async def _open_persistence(self, persistence: WorkflowPersistence) -> None:
        """Check the store is reachable (creating tables if configured) and record the definitions."""
        await persistence.open(self._registry)

    async def _close_persistence(self, persistence: WorkflowPersistence) -> None:
        """Close what the plugin built (a persistence the app passed in is left to its owner)."""
        if self._build_persistence is not None:
            await persistence.close()
