"""``SQLAlchemyPersistence``: durable workflow state in the app's SQL database.

Writes are grouped: ``commit`` calls from many instances wait while one writer task puts
everything queued into one database transaction (a change whose precondition fails writes
nothing; one the database refuses is written apart from the others, see ``db.isolation``),
then wakes every caller. A caller's ``commit`` returns only after its transaction committed,
so a step's result is recorded before the next step starts, while one disk flush serves many
instances.

SQLite runs in WAL mode with a busy timeout and foreign keys on; several engine processes need
PostgreSQL, where claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar, cast
from uuid import UUID

import msgspec
from advanced_alchemy.config import SQLAlchemyAsyncConfig
from advanced_alchemy.filters import LimitOffset, OrderBy
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import ColumnElement, Engine, Table, and_, event, false, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    TaskAlreadyCompletedError,
    TaskNotFoundError,
    WorkflowInstanceNotFoundError,
)
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.task_checks import TaskActor, holder_change_refusal
from litestar_workflows.core.types import TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.db.codec import (
    execution_from_row,
    instance_from_row,
    task_from_row,
)
from litestar_workflows.db.filters import instance_in_scope_clause, task_visible_to_clause
from litestar_workflows.db.isolation import is_outage, refusal, write_isolated
from litestar_workflows.db.models import (
    HumanTaskModel,
    StepExecutionModel,
    WorkflowInstanceModel,
)
from litestar_workflows.db.outages import as_outage
from litestar_workflows.db.sqlite_threads import BUSY_TIMEOUT_MS, DatabaseBusy, SQLiteThreads, file_database_url
from litestar_workflows.db.startup import prepare_schema, record_definitions
from litestar_workflows.db.writer import Outcome, write_changes
from litestar_workflows.engine.persistence import (
    UNSET,
    InstanceChange,
    InstanceQuery,
    TaskQuery,
    _Unset,
)
from litestar_workflows.engine.registry import WorkflowRegistry

__all__ = ("SQLAlchemyPersistence",)

logger = logging.getLogger("litestar_workflows.db")

_INSTANCES = cast("Table", WorkflowInstanceModel.__table__)
_EXECUTIONS = cast("Table", StepExecutionModel.__table__)
_TASKS = cast("Table", HumanTaskModel.__table__)
_PRECONDITION_ERRORS = (
    ConcurrentUpdateError,
    TaskAlreadyCompletedError,
    TaskNotFoundError,
    WorkflowInstanceNotFoundError,
)


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _reporting_outages(
    method: Callable[Concatenate[SQLAlchemyPersistence, _P], Awaitable[_T]],
) -> Callable[Concatenate[SQLAlchemyPersistence, _P], Coroutine[Any, Any, _T]]:
    """Raise ``DatabaseUnavailableError`` instead of the driver's error when the database cannot be reached."""

    @functools.wraps(method)
    async def run(self: SQLAlchemyPersistence, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(self, *args, **kwargs)
        except Exception as exc:
            outage = as_outage(exc)
            if outage is None or outage is exc:
                raise
            raise outage from exc

    return run


def _shielded(
    method: Callable[Concatenate[SQLAlchemyPersistence, _P], Awaitable[_T]],
) -> Callable[Concatenate[SQLAlchemyPersistence, _P], Coroutine[Any, Any, _T]]:
    """Run a database operation to its end even if the caller is cancelled (and report outages).

    Engine shutdown cancels running steps; a query cancelled half-way would leave its pooled
    connection checked out (and unclosable by ``dispose``). The operation runs in its own task,
    which ``close`` waits for; only the caller's wait is cancelled.
    """

    @functools.wraps(method)
    async def run(self: SQLAlchemyPersistence, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        task: asyncio.Future[_T] = asyncio.ensure_future(method(self, *args, **kwargs))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    return _reporting_outages(run)


def _now() -> datetime:
    return datetime.now(UTC)


def _json_dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    """WAL, busy timeout, foreign keys, and explicit BEGIN so SAVEPOINTs work with pysqlite."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_lsw_configured", False):
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy, not the driver, begin transactions
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching a new file to WAL waits for other processes opening it.
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("lsw_begin", "")
        # Straight to the DBAPI cursor: SQLAlchemy's statement machinery costs more than BEGIN itself.
        cursor = connection.connection.cursor()
        try:
            cursor.execute(f"BEGIN {mode}".strip())
        finally:
            cursor.close()

    engine._lsw_configured = True  # type: ignore[attr-defined]


class _InstanceRepository(SQLAlchemyAsyncRepository[WorkflowInstanceModel]):
    model_type = WorkflowInstanceModel


class _TaskRepository(SQLAlchemyAsyncRepository[HumanTaskModel]):
    model_type = HumanTaskModel


class _SQLCheckpoint:
    """A transactional step's transaction: its session, and the commit of the step's change."""

    __slots__ = ("_persistence", "committed", "session")

    def __init__(self, persistence: SQLAlchemyPersistence, session: AsyncSession) -> None:
        self._persistence = persistence
        self.session: Any = session
        self.committed = False

    async def commit(self, change: InstanceChange) -> bool:
        try:
            connection = await self.session.connection()
            outcomes: list[Outcome] = await connection.run_sync(write_changes, [change])
            outcome = outcomes[0]
            if not isinstance(outcome, Exception):
                await self.session.commit()  # the step's own rows too: their constraints are checked here
        except Exception as exc:
            if is_outage(exc):
                raise
            raise refusal(change, exc) from exc  # the step's attempt fails; its transaction rolls back
        if isinstance(outcome, Exception):
            raise outcome  # a precondition failed (a concurrent update): nothing was written
        held = outcome
        self.committed = True
        change.instance.context.step_history.extend(change.executions)
        return held


class SQLAlchemyPersistence:
    """``WorkflowPersistence`` on SQLAlchemy (SQLite by default, PostgreSQL in production).

    Args:
        config: The host app's advanced-alchemy config; its engine is used (and not disposed).
        url: A database URL when no config is given (default: a SQLite file ``workflows.sqlite3``).
        create_all: Create the tables on first use (demos, tests); production uses the migrations.
        max_batch: At most this many changes share one transaction.
        sqlite_synchronous: SQLite's ``synchronous`` level. ``FULL`` (default) flushes the WAL to
            disk at every commit: nothing committed is lost even on power failure. ``NORMAL``
            flushes at checkpoints only: still nothing lost when the *process* dies (kill -9),
            but the last commits may be lost if the machine loses power.
    """

    def __init__(
        self,
        config: SQLAlchemyAsyncConfig | None = None,
        *,
        url: str | None = None,
        create_all: bool = False,
        max_batch: int = 512,
        sqlite_synchronous: str = "FULL",
    ) -> None:
        if sqlite_synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            msg = "sqlite_synchronous must be FULL, NORMAL or EXTRA (OFF would not be durable)"
            raise ValueError(msg)
        self._sqlite_synchronous = sqlite_synchronous.upper()
        if config is not None and url is not None:
            msg = "give either an advanced-alchemy config or a url, not both"
            raise ValueError(msg)
        self._config = config
        self._url = url or "sqlite+aiosqlite:///workflows.sqlite3"
        self._create_all = create_all
        self._max_batch = max_batch
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._ready = False
        self._ready_lock = asyncio.Lock()
        self._pending: list[tuple[InstanceChange, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._busy = False
        """A transaction of the engine's is being written (by the writer task or a caller alone)."""
        self._inflight: set[asyncio.Future[Any]] = set()
        self._threads: SQLiteThreads | None = None

    # --- set-up ---------------------------------------------------------------------------------

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine (created on first use)."""
        if self._engine is None:
            if self._config is not None:
                self._engine = self._config.get_engine()
            else:
                self._engine = create_async_engine(
                    self._url, json_serializer=_json_dumps, json_deserializer=msgspec.json.decode
                )
            _configure_sqlite(self._engine.sync_engine, self._sqlite_synchronous)
            self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql``, ..."""
        return self.engine.dialect.name

    async def _ensure_ready(self) -> AsyncEngine:
        engine = self.engine
        if not self._ready:
            async with self._ready_lock:
                if not self._ready:
                    async with self._write_connection() as connection:  # serialised with other processes
                        await connection.run_sync(functools.partial(prepare_schema, create_all=self._create_all))
                    file_url = file_database_url(engine.url)
                    if file_url is not None:
                        self._threads = SQLiteThreads(
                            file_url,
                            functools.partial(_configure_sqlite, synchronous=self._sqlite_synchronous),
                            json_serializer=_json_dumps,
                            json_deserializer=msgspec.json.decode,
                        )
                    self._ready = True
        return engine

    def _session(self) -> AsyncSession:
        _ = self.engine
        assert self._sessions is not None
        return self._sessions()

    async def close(self) -> None:
        """Flush queued commits, stop the writer, and dispose the engine if this object created it."""
        if self._inflight:
            await asyncio.wait(set(self._inflight))
        writer, self._writer = self._writer, None
        if writer is not None:
            # Let the writer finish what is queued and the batch it is writing (cancelling it
            # mid-batch would strand that batch's connection), then stop.
            self._closing = True
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        self._closing = False
        threads, self._threads = self._threads, None
        if threads is not None:
            await threads.close()
        self._ready = False
        # asyncio primitives bind to the loop that first waits on them: start afresh, so the
        # object can be used again (a restarted app may run on another event loop).
        self._wake = asyncio.Event()
        self._ready_lock = asyncio.Lock()
        if self._engine is not None and self._config is None:
            await self._engine.dispose()
            self._engine = None
            self._sessions = None

    def known_instances(self) -> Sequence[WorkflowInstanceData]:
        """None: a database is only read by awaiting it."""
        return ()

    @_shielded
    async def open(self, registry: WorkflowRegistry) -> None:
        """Check the database answers, create the tables if configured, check them, record the definitions.

        Refuses (``DefinitionChangedError``) a definition whose steps or edges differ from the
        ones recorded under its version, and warns about running or waiting instances of
        versions the registry lacks. Safe when several processes start at once.
        """
        await self._ensure_ready()
        definitions = registry.list_definitions()
        registered = {(definition.name, definition.version) for definition in definitions}
        async with self._write_connection() as connection:
            await connection.run_sync(record_definitions, definitions, registered)

    @_shielded
    async def ping(self) -> None:
        """Run a trivial query; raises ``DatabaseUnavailableError`` when the database cannot be reached."""
        await self._read(lambda connection: connection.execute(select(1)).scalar())

    # --- the one write: group commit ------------------------------------------------------------

    @_reporting_outages
    async def commit(self, change: InstanceChange) -> bool:
        """Queue ``change`` for the next group transaction and wait until it committed."""
        await self._ensure_ready()
        threads = self._threads
        if threads is not None and not self._busy and not self._pending:
            return await self._commit_alone(threads, change)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((change, future))
        if not self._busy:
            self._wake_writer()
        held = await future
        change.instance.context.step_history.extend(change.executions)
        return held

    async def _commit_alone(self, threads: SQLiteThreads, change: InstanceChange) -> bool:
        """Nothing is being written or queued: commit ``change`` right here, unless company arrives.

        Other tasks that are ready to run get one turn first; changes they commit meanwhile
        queue up, and then ``change`` goes first into their group, written by the writer task
        as usual. Alone, it is written on the event loop's thread (see
        ``SQLiteThreads.write_here``), or in the writer thread when another connection holds
        SQLite's write lock.
        """
        self._busy = True
        finished = asyncio.get_running_loop().create_future()
        self._inflight.add(finished)  # ``close`` waits for it
        joined: asyncio.Future[bool] | None = None
        try:
            await asyncio.sleep(0)
            if self._pending:
                joined = asyncio.get_running_loop().create_future()
                self._pending.insert(0, (change, joined))
            else:
                (outcome,) = await write_isolated(functools.partial(self._write_alone, threads), [change])
                if isinstance(outcome, Exception):
                    raise outcome
                held = outcome
        finally:
            self._busy = False
            finished.set_result(None)
            self._inflight.discard(finished)
            if self._pending:
                self._wake_writer()
        if joined is not None:
            held = await joined
        change.instance.context.step_history.extend(change.executions)
        return held

    @staticmethod
    async def _write_alone(threads: SQLiteThreads, changes: list[InstanceChange]) -> list[Outcome]:
        work = functools.partial(write_changes, changes=changes)
        try:
            return threads.write_here(work)
        except DatabaseBusy:
            return await threads.write(work)

    def _wake_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_forever())
        self._wake.set()

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and not self._busy:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                self._busy = True
                try:
                    await self._write(batch)
                finally:
                    self._busy = False
            if self._closing:
                return

    async def _write(self, batch: list[tuple[InstanceChange, asyncio.Future[bool]]]) -> None:
        try:
            # A change the database refuses fails alone; the others of the group are written.
            outcomes = await write_isolated(self._write_group, [change for change, _ in batch])
        except Exception as exc:  # the database failed as a whole: nobody's change was recorded
            logger.exception("group commit of %d change(s) failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _write_group(self, changes: list[InstanceChange]) -> list[Outcome]:
        """Write ``changes`` in one transaction (the writer thread's on a SQLite file)."""
        if self._threads is not None:
            return await self._threads.write(functools.partial(write_changes, changes=changes))
        async with self._write_connection() as connection:
            return await connection.run_sync(write_changes, changes)

    @property
    def _write_options(self) -> dict[str, Any]:
        # SQLite: a deferred transaction that reads before it writes cannot wait for the write
        # lock (the busy handler is skipped: "database is locked"), so writers take it up front.
        return {"lsw_begin": "IMMEDIATE"} if self.engine.dialect.name == "sqlite" else {}

    @contextlib.asynccontextmanager
    async def _write_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction (BEGIN IMMEDIATE on SQLite: the write lock up front)."""
        async with self.engine.connect() as plain:
            connection = await plain.execution_options(**self._write_options)
            async with connection.begin():
                yield connection

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SQLCheckpoint]:
        """A transaction for a transactional step; rolled back unless its checkpoint committed."""
        await self._ensure_ready()
        async with self._session() as session:
            await session.connection(execution_options=self._write_options)
            checkpoint = _SQLCheckpoint(self, session)
            try:
                yield checkpoint
            finally:
                if not checkpoint.committed:
                    await session.rollback()

    # --- reads ----------------------------------------------------------------------------------

    async def _read(self, work: Callable[[Connection], _T]) -> _T:
        """Run a synchronous read in a reader thread (SQLite file) or through ``run_sync``."""
        engine = await self._ensure_ready()
        if self._threads is not None:
            return await self._threads.read(work)
        async with engine.connect() as connection:
            return await connection.run_sync(work)

    @_shielded
    async def load_instance(self, instance_id: UUID) -> WorkflowInstanceData | None:
        """The instance with its step history, in recorded order."""
        return await self._read(functools.partial(_load_instance, instance_id=instance_id))

    @_shielded
    async def get_task(self, task_id: UUID) -> HumanTaskData | None:
        """One task, or None."""
        return await self._read(functools.partial(_get_task, task_id=task_id))

    @_shielded
    async def list_tasks(
        self, *, instance_id: UUID | None = None, status: TaskStatus | None = None
    ) -> list[HumanTaskData]:
        """Tasks in creation order."""
        statement = select(_TASKS).order_by(_TASKS.c.created_at, _TASKS.c.id)
        if instance_id is not None:
            statement = statement.where(_TASKS.c.instance_id == instance_id)
        if status is not None:
            statement = statement.where(_TASKS.c.status == status.value)
        rows = await self._read(lambda connection: connection.execute(statement).all())
        return [task_from_row(row) for row in rows]

    @_shielded
    async def list_instances(
        self, *, workflow_name: str | None = None, status: WorkflowStatus | None = None
    ) -> list[WorkflowInstanceData]:
        """Instances, oldest first, without their step history (load one for it)."""
        engine = await self._ensure_ready()
        statement = select(_INSTANCES).order_by(_INSTANCES.c.started_at, _INSTANCES.c.id)
        if workflow_name is not None:
            statement = statement.where(_INSTANCES.c.workflow_name == workflow_name)
        if status is not None:
            statement = statement.where(_INSTANCES.c.status == status.value)
        async with engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [instance_from_row(_Row(row._mapping), []) for row in rows]

    @_shielded
    async def query_instances(self, query: InstanceQuery) -> tuple[list[WorkflowInstanceData], int]:
        """One page of instances, newest first, through advanced-alchemy's repository."""
        await self._ensure_ready()
        model = WorkflowInstanceModel
        filters: list[Any] = []
        if query.workflow_name is not None:
            filters.append(model.workflow_name == query.workflow_name)
        if query.status is not None:
            filters.append(model.status == query.status.value)
        if query.started_after is not None:
            filters.append(model.started_at > query.started_after)
        if query.started_before is not None:
            filters.append(model.started_at < query.started_before)
        if not isinstance(query.started_by, _Unset):
            starter = query.started_by
            filters.append(model.started_by.is_(None) if starter is None else model.started_by == starter)
        if query.scope is not None:
            filters.append(instance_in_scope_clause(query.scope))
        async with self._session() as session:
            page = OrderBy("started_at", "desc"), LimitOffset(query.limit, query.offset)
            rows, total = await _page_and_total(_InstanceRepository(session=session), page, filters)
        return [instance_from_row(row, []) for row in rows], total

    @_shielded
    async def query_tasks(self, query: TaskQuery) -> tuple[list[HumanTaskData], int]:
        """One page of tasks, oldest first; ``visible_to`` is evaluated in SQL."""
        await self._ensure_ready()
        model = HumanTaskModel
        filters: list[Any] = []
        if query.status is not None:
            filters.append(model.status == query.status.value)
        if query.assignee is not None:
            filters.append(model.assignee == query.assignee)
        if query.assigned_or_claimed_by is not None:
            user = query.assigned_or_claimed_by
            filters.append(or_(model.assignee == user, model.claimed_by == user))
        if query.candidate_group is not None:
            filters.append(model.groups_text.contains(f",{query.candidate_group},", autoescape=True))
        if query.workflow_name is not None:
            filters.append(model.workflow_name == query.workflow_name)
        if query.instance_id is not None:
            filters.append(model.instance_id == query.instance_id)
        if query.visible_to is not None:
            filters.append(task_visible_to_clause(*query.visible_to))
        async with self._session() as session:
            page = OrderBy("created_at", "asc"), LimitOffset(query.limit, query.offset)
            rows, total = await _page_and_total(_TaskRepository(session=session), page, filters)
        return [task_from_row(row) for row in rows], total

    @_shielded
    async def update_open_task(
        self,
        task_id: UUID,
        *,
        claimed_by: str | _Unset | None = UNSET,
        assignee: str | _Unset | None = UNSET,
        if_claimable_by: str | None = None,
        actor: TaskActor | None = None,
    ) -> HumanTaskData:
        """Claim, release or reassign an OPEN task: read it locked, check, update, in one transaction.

        The row is read ``FOR UPDATE`` on PostgreSQL (on SQLite the transaction began IMMEDIATE,
        holding the write lock), so concurrent claims queue behind each other and each one's
        conditions (``holder_change_refusal``) are checked against the row as the one before
        left it: no read-then-write race, and the permission rule is the core function itself.
        """
        engine = await self._ensure_ready()
        values: dict[str, Any] = {}
        if not isinstance(claimed_by, _Unset):
            values["claimed_by"] = claimed_by
        if not isinstance(assignee, _Unset):
            values["assignee"] = assignee
        columns = _TASKS.c
        query = select(_TASKS).where(columns.id == task_id)
        if engine.dialect.name == "postgresql":
            query = query.with_for_update()
        async with self._write_connection() as connection:
            row = (await connection.execute(query)).first()
            if row is None:
                raise TaskNotFoundError(f"task {task_id} not found")
            stored = task_from_row(row)
            refusal = holder_change_refusal(stored, actor, if_claimable_by)
            if refusal is not None:
                raise refusal
            if not values:
                return stored
            statement = update(_TASKS).where(columns.id == task_id).values(**values).returning(*columns)
            return task_from_row((await connection.execute(statement)).one())

    @_shielded
    async def list_due_timers(self, until: datetime) -> list[tuple[UUID, str, datetime]]:
        """READY tokens with a stored time not after ``until`` (from instances due by then)."""
        engine = await self._ensure_ready()
        columns = _INSTANCES.c
        statement = select(columns.id, columns.tokens).where(
            columns.status == WorkflowStatus.RUNNING.value, columns.next_run_at <= until
        )
        async with engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        due: list[tuple[UUID, str, datetime]] = []
        for instance_id, tokens in rows:
            for token in tokens:
                if token["status"] == TokenStatus.READY.value and token["not_before"] is not None:
                    at = datetime.fromisoformat(token["not_before"])
                    if at <= until:
                        due.append((instance_id, token["id"], at))
        return sorted(due, key=lambda item: item[2])

    # --- leases ---------------------------------------------------------------------------------

    @_shielded
    async def acquire_lease(self, instance_id: UUID, owner: str, now: datetime, until: datetime) -> bool:
        """Take one instance's lease if free, expired or already ``owner``'s."""
        await self._ensure_ready()
        columns = _INSTANCES.c
        async with self._write_connection() as connection:
            result = await connection.execute(
                update(_INSTANCES)
                .where(
                    columns.id == instance_id,
                    or_(columns.lease_owner.is_(None), columns.lease_owner == owner, columns.lease_expires_at < now),
                )
                .values(lease_owner=owner, lease_expires_at=until)
            )
        return bool(result.rowcount)

    @_shielded
    async def renew_leases(self, owner: str, instance_ids: Sequence[UUID], until: datetime) -> None:
        """Extend ``owner``'s leases on these instances."""
        if not instance_ids:
            return
        await self._ensure_ready()
        columns = _INSTANCES.c
        async with self._write_connection() as connection:
            await connection.execute(
                update(_INSTANCES)
                .where(columns.lease_owner == owner, columns.id.in_(list(instance_ids)))
                .values(lease_expires_at=until)
            )

    @_shielded
    async def release_leases(self, owner: str, instance_ids: Sequence[UUID] | None = None) -> None:
        """Give up ``owner``'s leases."""
        await self._ensure_ready()
        columns = _INSTANCES.c
        condition: ColumnElement[bool] = columns.lease_owner == owner
        if instance_ids is not None:
            condition = and_(condition, columns.id.in_(list(instance_ids)) if instance_ids else false())
        async with self._write_connection() as connection:
            await connection.execute(
                update(_INSTANCES).where(condition).values(lease_owner=None, lease_expires_at=None)
            )

    @_shielded
    async def claim_runnable(self, owner: str, now: datetime, until: datetime, limit: int) -> list[UUID]:
        """Lease due, running instances whose lease is free or expired; concurrent claimers never share one."""
        engine = await self._ensure_ready()
        columns = _INSTANCES.c
        candidates = (
            select(columns.id)
            .where(
                columns.status == WorkflowStatus.RUNNING.value,
                columns.next_run_at <= now,
                or_(columns.lease_owner.is_(None), columns.lease_owner == owner, columns.lease_expires_at < now),
            )
            .order_by(columns.next_run_at)
            .limit(limit)
        )
        if engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(_INSTANCES)
            .where(columns.id.in_(candidates.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=until)
            .returning(columns.id)
        )
        async with self._write_connection() as connection:
            return [row[0] for row in (await connection.execute(statement)).all()]


async def _page_and_total(
    repository: SQLAlchemyAsyncRepository[Any], page: tuple[OrderBy, LimitOffset], filters: list[Any]
) -> tuple[Sequence[Any], int]:
    """One page of rows matching ``filters`` and how many match in all, in one query when the page has rows.

    The count rides on the page's rows (a window function), so a page past the end would say
    0: then a count of its own answers.
    """
    rows, total = await repository.get_many_and_count(*page, *filters)
    if not rows and page[1].offset > 0:
        total = await repository.count(*filters)
    return rows, total


def _load_instance(connection: Connection, instance_id: UUID) -> WorkflowInstanceData | None:
    row = connection.execute(select(_INSTANCES).where(_INSTANCES.c.id == instance_id)).first()
    if row is None:
        return None
    executions = connection.execute(
        select(_EXECUTIONS).where(_EXECUTIONS.c.instance_id == instance_id).order_by(_EXECUTIONS.c.id)
    ).all()
    return instance_from_row(_Row(row._mapping), [execution_from_row(execution) for execution in executions])


def _get_task(connection: Connection, task_id: UUID) -> HumanTaskData | None:
    row = connection.execute(select(_TASKS).where(_TASKS.c.id == task_id)).first()
    return None if row is None else task_from_row(row)


class _Row:
    """Attribute access over a row mapping whose ``metadata`` column is exposed as ``meta``."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: Any) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        if name == "meta":
            return self._mapping["metadata"]
        return self._mapping[name]
