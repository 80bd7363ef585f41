"""``WorkflowPluginConfig``: everything the Litestar plugin can be told, with nested settings objects.

As in advanced-alchemy's ``SQLAlchemyAsyncConfig(engine_config=..., session_config=...)``, the
settings of one part live in an object of their own: ``engine_config`` (how the engine claims and
hands over work), ``persistence_config`` (how the SQL persistence the plugin builds writes) and
``ui`` (the browser UI). Each has working defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from advanced_alchemy.config import SQLAlchemyAsyncConfig
from litestar.exceptions import ImproperlyConfiguredException
from litestar.types import Guard

from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.engine.persistence import WorkflowPersistence
from litestar_workflows.policy import WorkflowPolicy
from litestar_workflows.queue.config import WorkflowQueueConfig
from litestar_workflows.ui.config import UIConfig
from litestar_workflows.web.identity import IdentityResolver, default_identity_resolver

__all__ = ("DEFAULT_DATABASE_URL", "SQLPersistenceConfig", "WorkflowEngineConfig", "WorkflowPluginConfig")

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///workflows.sqlite3"
"""Where state lives when the app gives neither ``sqlalchemy_config`` nor ``persistence``."""

SQLiteSynchronous = Literal["FULL", "NORMAL", "EXTRA"]


@dataclass
class WorkflowEngineConfig:
    """How the plugin's engine runs: ``WorkflowPluginConfig(engine_config=WorkflowEngineConfig(...))``."""

    lease_seconds: float = 30.0
    """How long an engine holds an instance without renewing its lease (it renews every third of it).
    When a process dies, another one takes over its instances after at most this long."""
    poll_interval: float = 1.0
    """Seconds between the engine's scans for due timers and work left by crashed processes."""
    grace_period: float = 5.0
    """Seconds running steps get to finish at shutdown; the rest resumes at the next start-up."""

    def __post_init__(self) -> None:
        if not self.lease_seconds > 0 or not self.poll_interval > 0 or not self.grace_period >= 0:
            msg = (
                "WorkflowEngineConfig: lease_seconds and poll_interval must be positive, grace_period not "
                f"negative (got {self.lease_seconds}, {self.poll_interval}, {self.grace_period})"
            )
            raise ImproperlyConfiguredException(msg)


@dataclass
class SQLPersistenceConfig:
    """How the SQL persistence the plugin builds writes: ``WorkflowPluginConfig(persistence_config=...)``.

    For the plugin's own ``database_url`` database and for the host's ``sqlalchemy_config`` alike; a
    ``persistence`` the app passes in is configured by the app.
    """

    sqlite_synchronous: SQLiteSynchronous = "FULL"
    """SQLite's ``synchronous`` level for the commits that must reach the disk (``flush_every_commit``).
    ``FULL`` flushes the write-ahead log at such a commit: nothing acknowledged is lost, even on
    power failure. ``NORMAL`` flushes at checkpoints only: nothing lost when the process is killed,
    but the last commits may be lost if the machine loses power. (PostgreSQL ignores it.)"""
    flush_every_commit: bool = False
    """Wait for the disk at every commit. By default a commit waits for it when the engine tells
    someone of it (the caller of a start, a completion, a signal, a cancel; ``wait_for``; a person
    who gets a task; the instance's end), while machine progress (a step's result leading to the
    next machine step) is written, so a killed process loses none of it, and reaches the disk with
    the next flushed commit. After a power failure an instance may then resume a few machine steps
    back and run them again, as it would after a crash during one of them. ``True`` flushes those
    too (slower one workflow at a time: the engine waits for the disk between any two steps)."""
    max_batch: int = 512
    """At most this many changes, from concurrent instances, share one transaction (group commit)."""
    pool_size: int = 20
    """Connections kept open to the plugin's own ``database_url`` database (PostgreSQL; SQLite files
    have a writer thread and reader threads of their own). Size it to what the engine and the API use
    at once: one per request reading at the same moment (an instance, a task, a listing) plus the
    group-commit writer, the lease and claim loop and a transactional step's transaction. Requests
    beyond it open connections that are closed again when handed back (up to ``pool_size`` more,
    then they wait): on PostgreSQL each new connection costs milliseconds, so a pool smaller than the
    load churns. The host's ``sqlalchemy_config`` brings its own pool, sized by the host."""

    def __post_init__(self) -> None:
        if self.sqlite_synchronous not in ("FULL", "NORMAL", "EXTRA"):
            msg = (
                f"SQLPersistenceConfig.sqlite_synchronous must be FULL, NORMAL or EXTRA, got "
                f"{self.sqlite_synchronous!r} (OFF would not be durable)"
            )
            raise ImproperlyConfiguredException(msg)
        for name in ("max_batch", "pool_size"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                msg = f"SQLPersistenceConfig.{name} must be a whole number of at least 1, got {value!r}"
                raise ImproperlyConfiguredException(msg)


@dataclass
class WorkflowPluginConfig:
    """Configuration of :class:`~litestar_workflows.WorkflowPlugin`.

    Only ``workflows`` is needed for a first app; every other field has a working default.
    """

    workflows: Sequence[type[Any] | WorkflowDefinition] = field(default_factory=list)
    """Workflow classes (with a ``get_definition()`` classmethod) or definitions to register at start-up.
    More can be registered later through ``plugin.registry``."""
    sqlalchemy_config: SQLAlchemyAsyncConfig | None = None
    """The host's advanced-alchemy config: workflow tables then live in the app's own database.
    List ``SQLAlchemyPlugin`` *before* ``WorkflowPlugin`` so the engine starts after the database is
    up and stops before it goes down (the plugin refuses the other order)."""
    persistence: WorkflowPersistence | None = None
    """An explicit persistence, overriding the SQL one (``InMemoryPersistence()`` for tests)."""
    database_url: str = DEFAULT_DATABASE_URL
    """Database of the plugin's own when neither ``sqlalchemy_config`` nor ``persistence`` is given."""
    create_all: bool = False
    """Create the workflow tables at start-up if they are missing. Meant for demos and tests; use the
    shipped migrations in production. The plugin's own ``database_url`` database always gets them."""
    path: str = "/workflows"
    """URL prefix of the REST API."""
    enable_api: bool = True
    """Mount the REST API (definitions, instances, tasks). The engine and DI work without it."""
    api_guards: Sequence[Guard] = field(default_factory=list)
    """Guards applied to every API route and every page of the browser UI (on top of the app's own)."""
    api_tags: Sequence[str] = ("Workflows",)
    """OpenAPI tags of the API routes."""
    include_in_schema: bool = True
    """Show the API routes in the app's OpenAPI schema."""
    identity_resolver: IdentityResolver = default_identity_resolver
    """Turns a request into an ``Identity(user_id, groups)``. The default reads ``request.user``
    (an object or mapping with ``id``, ``user_id`` or ``username`` and ``groups``, or a string) when
    the app has authentication middleware; without it, callers are anonymous and may not act on tasks."""
    started_by_key: str | None = None
    """Context key the start endpoint sets to the caller's user id (replacing any value sent in the
    body), so steps can trust who started an instance. None: nothing is added."""
    admin_role: str | None = None
    """A group whose members may do anything with any task (see, claim, complete, reassign) and any
    instance (see, cancel, retry)."""
    policy: WorkflowPolicy | None = None
    """Who may view definitions, start workflows, see, cancel and retry instances (see
    ``litestar_workflows.policy``). None: ``WorkflowPolicy(admin_role)``. With a policy, leave
    ``admin_role`` unset: it is taken from the policy (giving both, they must agree)."""
    allow_anonymous: bool = False
    """Let callers without an identity use the API (a WARNING is logged at start-up). Off, they get
    401 on every route. On, they may do what the policy allows a user without groups over the
    instances started without a recorded starter; they never act on tasks. For local development."""
    engine_config: WorkflowEngineConfig = field(default_factory=WorkflowEngineConfig)
    """Leases, polling and the shutdown grace period of the engine (see :class:`WorkflowEngineConfig`)."""
    persistence_config: SQLPersistenceConfig | None = None
    """SQLite durability and group-commit size of the SQL persistence the plugin builds (see
    :class:`SQLPersistenceConfig`); None: its defaults. Not with ``persistence``, which the app configures."""
    engine_dependency_key: str = "workflow_engine"
    """Name under which handlers receive the engine: ``workflow_engine: NamedDependency[LocalExecutionEngine]``."""
    registry_dependency_key: str = "workflow_registry"
    """Name under which handlers receive the ``WorkflowRegistry``."""
    max_body_size: int = 1024 * 1024
    """Largest request body the API accepts, in bytes; larger ones get a 413."""
    set_exception_handlers: bool = True
    """Also register, app-wide, the handlers turning engine errors into 400/403/404/409 responses, for
    the host's own routes that call the engine (never replacing handlers the app already has). The
    API's routes have them either way."""
    sse_keepalive: float = 15.0
    """Seconds between keep-alive comments on an idle event stream."""
    freeze_gc: bool = True
    """Once the engine is up, collect garbage once and move every object still alive (modules,
    routes, definitions, the app) out of the garbage collector's reach with ``gc.freeze()``: full
    collections then walk only what requests create, instead of the whole app, which under load
    showed as pauses of tens of milliseconds. Process-wide: turn it off if the host manages the
    collector itself."""
    queue: WorkflowQueueConfig | None = None
    """Run steps on SAQ workers (``litestar workers run``) while ``litestar run`` serves the API and
    runs none; events reach every process through Litestar Channels. Needs the ``saq`` extra. None:
    one process serves and runs everything. See docs/deploying.md."""
    ui: UIConfig | None = None
    """The browser UI (task inbox, instances, start forms) under ``path + ui.path``; off when None.
    Needs the ``ui`` extra (Jinja2). See docs/ui.md."""

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            msg = f"WorkflowPluginConfig.path must start with '/', got {self.path!r}"
            raise ImproperlyConfiguredException(msg)
        if self.engine_dependency_key == self.registry_dependency_key:
            msg = "engine_dependency_key and registry_dependency_key must differ"
            raise ImproperlyConfiguredException(msg)
        if self.sqlalchemy_config is not None and self.persistence is not None:
            msg = "give either sqlalchemy_config or persistence, not both"
            raise ImproperlyConfiguredException(msg)
        if self.max_body_size <= 0:
            msg = "max_body_size must be positive"
            raise ImproperlyConfiguredException(msg)
        if self.persistence is not None and self.persistence_config is not None:
            msg = (
                "persistence_config configures the SQL persistence the plugin builds; with persistence= "
                "the app passes its own, configured by the app: give one of them"
            )
            raise ImproperlyConfiguredException(msg)
        if self.policy is not None:
            # One admin role for tasks (``admin_role``) and for the rest (the policy's).
            if self.admin_role is None:
                self.admin_role = self.policy.admin_role
            elif self.admin_role != self.policy.admin_role:
                msg = (
                    f"admin_role {self.admin_role!r} differs from the policy's admin role "
                    f"{self.policy.admin_role!r}; give it to the policy only"
                )
                raise ImproperlyConfiguredException(msg)
