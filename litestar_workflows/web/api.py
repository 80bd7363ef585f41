"""``WorkflowApi``: what the API's route handlers act with (``web.access.api_call``), and the pages' dependency."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from litestar_workflows.engine.engine import LocalExecutionEngine
from litestar_workflows.engine.events import InMemoryEventBus
from litestar_workflows.engine.persistence import WorkflowPersistence
from litestar_workflows.engine.registry import WorkflowRegistry
from litestar_workflows.policy import WorkflowPolicy
from litestar_workflows.web.events import StreamsEnd

if TYPE_CHECKING:
    from litestar import Litestar

    from litestar_workflows.config import WorkflowPluginConfig

__all__ = ("INSTANCE_DETAIL_ROUTE", "WorkflowApi")

INSTANCE_DETAIL_ROUTE = "workflows:instances:detail"
"""The name of the route that shows one instance (``GET {path}/instances/{instance_id}``)."""

_PROBE = UUID(int=0)


class WorkflowApi:
    """The engine, its persistence and the API settings, for one app.

    The engine is looked up on every access because the plugin builds a new one when the app
    starts again after a shutdown (a stopped engine does not take work any more).
    """

    __slots__ = ("_engine_source", "_instance_path", "config", "event_bus", "policy", "streams_end")

    def __init__(
        self,
        engine_source: Callable[[], LocalExecutionEngine],
        event_bus: InMemoryEventBus,
        config: WorkflowPluginConfig,
        streams_end: StreamsEnd | None = None,
    ) -> None:
        self._engine_source = engine_source
        self.event_bus = event_bus
        self.config = config
        self.policy: WorkflowPolicy = config.policy or WorkflowPolicy(config.admin_role)
        """Who may do what (the config's policy; built from ``admin_role`` when it has none)."""
        self.streams_end = streams_end or StreamsEnd()
        """Ends the app's open event streams when it shuts down."""
        self._instance_path: tuple[str, str] | None = None

    @property
    def engine(self) -> LocalExecutionEngine:
        """The running engine."""
        return self._engine_source()

    @property
    def persistence(self) -> WorkflowPersistence:
        """The engine's persistence."""
        return self.engine.persistence

    @property
    def registry(self) -> WorkflowRegistry:
        """The engine's registry."""
        return self.engine.registry

    @property
    def admin_role(self) -> str | None:
        """The group that may do anything with any task."""
        return self.config.admin_role

    def instance_path(self, app: Litestar, instance_id: UUID) -> str:
        """The path of ``instance_id``'s detail route (a start's ``Location``, a task's ``instance_url``)."""
        around = self._instance_path
        if around is None:
            # ``route_reverse`` looks the route up and checks its parameters at every call (a few µs
            # a request); the route's path is fixed once the app is built, so its text around the
            # id is asked for once.
            path = app.route_reverse(INSTANCE_DETAIL_ROUTE, instance_id=_PROBE)
            prefix, _, suffix = path.partition(str(_PROBE))
            around = self._instance_path = (prefix, suffix)
        return f"{around[0]}{instance_id}{around[1]}"

    @staticmethod
    def now() -> datetime:
        """The current UTC time (to tell overdue tasks)."""
        return datetime.now(UTC)
