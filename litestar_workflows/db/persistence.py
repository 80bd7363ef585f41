"""``SQLAlchemyPersistence``: durable workflow state in the app's SQL database.

Every write goes through one writer per database: on a SQLite file, one thread that owns the
write connection (``db.thread_writer``); elsewhere, a group-commit task on the event loop for
commits (``db.loop_writer``) and connections of their own for leases and claims. Commits queued
together share one transaction (a commit whose precondition fails writes nothing; one the
database refuses is written apart from the others, see ``db.isolation``); a caller's ``commit``
returns only after its transaction committed, so a step's result is recorded before the next
step starts, while one disk flush serves many instances.

SQLite runs in WAL mode with a busy timeout and foreign keys on; several engine processes need
PostgreSQL, where claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

import msgspec
from advanced_alchemy.config import SQLAlchemyAsyncConfig
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.task_checks import TaskActor
from litestar_workflows.core.types import TaskStatus, WorkflowStatus
from litestar_workflows.db import leases, reads
from litestar_workflows.db.checkpoint import SQLCheckpoint
from litestar_workflows.db.connect import configure_sqlite, json_dumps, pool_options, write_options
from litestar_workflows.db.guards import outage_instead, shielded
from litestar_workflows.db.loop_writer import LoopWriter
from litestar_workflows.db.sqlite_threads import SQLiteFile, file_database_url
from litestar_workflows.db.startup import prepare_schema, record_definitions
from litestar_workflows.db.task_holders import update_open_task
from litestar_workflows.db.thread_writer import ThreadWriter
from litestar_workflows.db.writer import note_committed
from litestar_workflows.engine.persistence import InstanceChange
from litestar_workflows.engine.queries import UNSET, InstanceQuery, TaskQuery, _Unset
from litestar_workflows.engine.registry import WorkflowRegistry

__all__ = ("SQLAlchemyPersistence",)

_T = TypeVar("_T")


class _Writer(Protocol):
    """The one write path of a database (``ThreadWriter`` on a SQLite file, ``LoopWriter`` elsewhere)."""

    def commit(self, change: InstanceChange) -> Awaitable[tuple[bool, ...]]: ...

    async def write(self, work: Callable[[Connection], _T]) -> _T: ...

    async def close(self) -> None: ...


class SQLAlchemyPersistence:
    """``WorkflowPersistence`` on SQLAlchemy (SQLite by default, PostgreSQL in production).

    Args:
        config: The host app's advanced-alchemy config; its engine is used (and not disposed).
        url: A database URL when no config is given (default: a SQLite file ``workflows.sqlite3``).
        create_all: Create the tables on first use (demos, tests); production uses the migrations.
        max_batch: At most this many changes share one transaction.
        sqlite_synchronous: SQLite's ``synchronous`` level for commits that must reach the disk.
            ``FULL`` (default) flushes the WAL at such a commit: nothing acknowledged is lost even
            on power failure. ``NORMAL`` flushes at checkpoints only: still nothing lost when the
            *process* dies (kill -9), but the last commits may be lost if the machine loses power.
        pool_size: Connections the engine made from ``url`` keeps open (not SQLite, not a
            ``config``'s engine); as many again may be opened for a moment under load. See
            ``SQLPersistenceConfig.pool_size``.
        flush_every_commit: Wait for the disk at every commit, machine progress included (see
            ``SQLPersistenceConfig.flush_every_commit``). By default only commits the engine
            acknowledges to someone wait for it (``InstanceChange.flush``).
    """

    def __init__(
        self,
        config: SQLAlchemyAsyncConfig | None = None,
        *,
        url: str | None = None,
        create_all: bool = False,
        max_batch: int = 512,
        sqlite_synchronous: str = "FULL",
        pool_size: int = 20,
        flush_every_commit: bool = False,
    ) -> None:
        if sqlite_synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            msg = "sqlite_synchronous must be FULL, NORMAL or EXTRA (OFF would not be durable)"
            raise ValueError(msg)
        if config is not None and url is not None:
            msg = "give either an advanced-alchemy config or a url, not both"
            raise ValueError(msg)
        self._sqlite_synchronous = sqlite_synchronous.upper()
        self._config = config
        self._url = url or "sqlite+aiosqlite:///workflows.sqlite3"
        self._create_all = create_all
        self._max_batch = max_batch
        self._pool_size = pool_size
        self._flush_every_commit = flush_every_commit
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._writer: _Writer | None = None
        self._file: SQLiteFile | None = None
        self._ready_lock = asyncio.Lock()
        self._inflight: set[asyncio.Future[Any]] = set()
        """Operations under way that ``close`` waits for (see ``db.guards.shielded``)."""

    # --- the store's life -----------------------------------------------------------------------

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine (created on first use)."""
        if self._engine is None:
            if self._config is not None:
                self._engine = self._config.get_engine()
            else:
                self._engine = create_async_engine(
                    self._url,
                    json_serializer=json_dumps,
                    json_deserializer=msgspec.json.decode,
                    **pool_options(self._url, self._pool_size),
                )
            configure_sqlite(self._engine.sync_engine, self._sqlite_synchronous)
            self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql``, ..."""
        return self.engine.dialect.name

    async def _ready(self) -> _Writer:
        """The writer, once the schema was checked (and created, with ``create_all``) by this process."""
        writer = self._writer
        if writer is None:
            async with self._ready_lock:
                writer = self._writer or await self._prepare()
        return writer

    async def _prepare(self) -> _Writer:
        engine = self.engine
        file_url = file_database_url(engine.url)
        sqlite_file: SQLiteFile | None = None
        writer: _Writer
        if file_url is not None:
            configure = functools.partial(configure_sqlite, synchronous=self._sqlite_synchronous)
            sqlite_file = SQLiteFile(
                file_url, configure, json_serializer=json_dumps, json_deserializer=msgspec.json.decode
            )
            writer = ThreadWriter(sqlite_file.engine, self._max_batch)
        else:
            writer = LoopWriter(engine, write_options(engine.dialect.name), self._max_batch)
        try:
            # In a write transaction: serialised with other processes starting on the same database.
            await writer.write(functools.partial(prepare_schema, create_all=self._create_all))
        except BaseException:
            await writer.close()
            if sqlite_file is not None:
                await sqlite_file.close()
            raise
        self._writer, self._file = writer, sqlite_file
        return writer

    @shielded
    async def open(self, registry: WorkflowRegistry) -> None:
        """Check the database answers, create the tables if configured, check them, record the definitions.

        Refuses (``DefinitionChangedError``) a definition whose steps or edges differ from the
        ones recorded under its version, and warns about running or waiting instances of
        versions the registry lacks. Safe when several processes start at once.
        """
        writer = await self._ready()
        definitions = registry.list_definitions()
        registered = {(definition.name, definition.version) for definition in definitions}
        await writer.write(functools.partial(record_definitions, definitions=definitions, registered=registered))

    async def close(self) -> None:
        """Finish the operations and commits under way, stop the writer, dispose the engine if this object made it."""
        if self._inflight:
            await asyncio.wait(set(self._inflight))
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer.close()
        sqlite_file, self._file = self._file, None
        if sqlite_file is not None:
            await sqlite_file.close()
        # asyncio primitives bind to the loop that first waits on them: start afresh, so the
        # object can be used again (a restarted app may run on another event loop).
        self._ready_lock = asyncio.Lock()
        if self._engine is not None and self._config is None:
            await self._engine.dispose()
            self._engine = None
            self._sessions = None

    @shielded
    async def ping(self) -> None:
        """Run a trivial query; raises ``DatabaseUnavailableError`` when the database cannot be reached."""
        await self._read(reads.ping)

    def known_instances(self) -> Sequence[WorkflowInstanceData]:
        """None: a database is only read by awaiting it."""
        return ()

    # --- the one write --------------------------------------------------------------------------

    async def commit(self, change: InstanceChange) -> bool:
        """Queue ``change`` for the next group transaction and wait until it committed.

        Reports outages as ``reporting_outages`` does, written out: a decorator's coroutine
        around every commit of the engine cost more than its two lines.
        """
        change.members()  # ``ValueError`` before anything is queued
        if self._flush_every_commit:
            change.flush = True
        try:
            writer = self._writer or await self._ready()
            held = await writer.commit(change)
        except Exception as exc:
            outage = outage_instead(exc)
            if outage is None:
                raise
            raise outage from exc
        return note_committed(change, held)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLCheckpoint]:
        """A transaction for a transactional step; rolled back unless its checkpoint committed."""
        await self._ready()
        assert self._sessions is not None
        async with self._sessions() as session:
            await session.connection(execution_options=write_options(self.dialect))
            checkpoint = SQLCheckpoint(session)
            try:
                yield checkpoint
            finally:
                if not checkpoint.committed:
                    await session.rollback()

    async def _write(self, work: Callable[[Connection], _T]) -> _T:
        writer = self._writer or await self._ready()
        return await writer.write(work)

    # --- leases ---------------------------------------------------------------------------------

    @shielded
    async def acquire_lease(self, instance_id: UUID, owner: str, now: datetime, until: datetime) -> bool:
        """Take one instance's lease if free, expired or already ``owner``'s."""
        return await self._write(
            functools.partial(leases.acquire_lease, instance_id=instance_id, owner=owner, now=now, until=until)
        )

    @shielded
    async def renew_leases(self, owner: str, instance_ids: Sequence[UUID], until: datetime) -> None:
        """Extend ``owner``'s leases on these instances."""
        if instance_ids:
            await self._write(
                functools.partial(leases.renew_leases, owner=owner, instance_ids=instance_ids, until=until)
            )

    @shielded
    async def release_leases(self, owner: str, instance_ids: Sequence[UUID] | None = None) -> None:
        """Give up ``owner``'s leases."""
        await self._write(functools.partial(leases.release_leases, owner=owner, instance_ids=instance_ids))

    @shielded
    async def claim_runnable(self, owner: str, now: datetime, until: datetime, limit: int) -> list[UUID]:
        """Lease due, running instances whose lease is free or expired; concurrent claimers never share one."""
        return await self._write(
            functools.partial(leases.claim_runnable, owner=owner, now=now, until=until, limit=limit)
        )

    # --- who holds an open task -----------------------------------------------------------------

    @shielded
    async def update_open_task(
        self,
        task_id: UUID,
        *,
        claimed_by: str | _Unset | None = UNSET,
        assignee: str | _Unset | None = UNSET,
        if_claimable_by: str | None = None,
        actor: TaskActor | None = None,
    ) -> HumanTaskData:
        """Claim, release or reassign an OPEN task: read it locked, check, update, in one write transaction."""
        values: dict[str, Any] = {}
        if not isinstance(claimed_by, _Unset):
            values["claimed_by"] = claimed_by
        if not isinstance(assignee, _Unset):
            values["assignee"] = assignee
        work = functools.partial(
            update_open_task, task_id=task_id, values=values, if_claimable_by=if_claimable_by, actor=actor
        )
        return await self._write(work)

    # --- reads ----------------------------------------------------------------------------------

    async def _read(self, work: Callable[[Connection], _T]) -> _T:
        """Run a synchronous read in a reader thread (SQLite file) or through ``run_sync``."""
        await self._ready()
        if self._file is not None:
            return await self._file.read(work)
        async with self.engine.connect() as plain:
            # No BEGIN and ROLLBACK around a read: two round trips less. Under READ COMMITTED (the
            # default) every statement reads its own snapshot either way.
            connection = await plain.execution_options(isolation_level="AUTOCOMMIT")
            return await connection.run_sync(work)

    @shielded
    async def load_instance(self, instance_id: UUID) -> WorkflowInstanceData | None:
        """The instance with its step history, in recorded order."""
        return await self._read(functools.partial(reads.load_instance, instance_id=instance_id))

    @shielded
    async def get_task(self, task_id: UUID) -> HumanTaskData | None:
        """One task, or None."""
        return await self._read(functools.partial(reads.get_task, task_id=task_id))

    @shielded
    async def load_task_with_instance(self, task_id: UUID) -> tuple[HumanTaskData, WorkflowInstanceData | None] | None:
        """One task and its instance (with its step history), read in one go; None if no such task."""
        return await self._read(functools.partial(reads.task_with_instance, task_id=task_id))

    @shielded
    async def list_tasks(
        self, *, instance_id: UUID | None = None, status: TaskStatus | None = None
    ) -> list[HumanTaskData]:
        """Tasks in creation order."""
        return await self._read(functools.partial(reads.list_tasks, instance_id=instance_id, status=status))

    @shielded
    async def list_instances(
        self,
        *,
        workflow_name: str | None = None,
        status: WorkflowStatus | None = None,
        parent_id: UUID | None = None,
    ) -> list[WorkflowInstanceData]:
        """Instances, oldest first, without their step history (load one for it)."""
        read = functools.partial(reads.list_instances, workflow_name=workflow_name, status=status, parent_id=parent_id)
        return await self._read(read)

    @shielded
    async def query_instances(self, query: InstanceQuery) -> tuple[list[WorkflowInstanceData], int]:
        """One page of instances, newest first, through advanced-alchemy's repository."""
        await self._ready()
        assert self._sessions is not None
        async with self._sessions() as session:
            return await reads.query_instances(session, query)

    @shielded
    async def query_tasks(self, query: TaskQuery) -> tuple[list[HumanTaskData], int]:
        """One page of tasks, oldest first; ``visible_to`` is evaluated in SQL."""
        await self._ready()
        assert self._sessions is not None
        async with self._sessions() as session:
            return await reads.query_tasks(session, query)

    @shielded
    async def list_due_timers(self, until: datetime) -> list[tuple[UUID, str, datetime]]:
        """READY tokens with a stored time not after ``until`` (from instances due by then)."""
        return await self._read(functools.partial(reads.due_timers, until=until))
