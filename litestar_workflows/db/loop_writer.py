"""PostgreSQL (and SQLite in memory): group commit from one task on the event loop.

``commit`` calls from many instances wait while one writer task puts everything queued into one
database transaction (``db.isolation.commit_batch``, as one ``run_sync`` call: the driver does
the I/O, the loop keeps running), then wakes every caller. A caller's ``commit`` returns only
after its transaction committed, so a step's result is recorded before the next step starts,
while one round trip and one flush serve many instances. Other writes (leases, claims) run on
connections of their own: the database's row locks order them.

A commit alone in its batch (one at a time, nothing else queued) is written as one statement
when it fits (``db.alone``): one round trip instead of five.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool

from litestar_workflows.db.alone import fits_alone, write_alone
from litestar_workflows.db.direct import supports_direct
from litestar_workflows.db.isolation import commit_batch
from litestar_workflows.db.known import KnownRows
from litestar_workflows.engine.persistence import InstanceChange

__all__ = ("LoopWriter",)

logger = logging.getLogger("litestar_workflows.db")

_T = TypeVar("_T")


class LoopWriter:
    """The group-commit task of an async engine.

    Args:
        engine: The persistence's async engine.
        options: Execution options of write connections (how SQLite begins its transactions).
        max_batch: At most this many commits share one transaction.
    """

    __slots__ = (
        "_alone",
        "_closing",
        "_engine",
        "_keeps",
        "_known",
        "_max_batch",
        "_options",
        "_pending",
        "_wake",
        "_writer",
    )

    def __init__(self, engine: AsyncEngine, options: dict[str, Any], max_batch: int) -> None:
        self._engine = engine
        self._options = options
        self._max_batch = max_batch
        self._pending: list[tuple[InstanceChange, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        postgres = engine.dialect.name == "postgresql" and supports_direct(engine.dialect)
        self._known = KnownRows() if postgres else None
        """The instance rows as this writer left them: a commit alone whose row is known is one statement."""
        self._alone: AsyncConnection | None = None
        """The autocommit connection that commits alone are written on, kept: a pool checkout and
        check-in cost a quarter of such a commit's time, and the server keeps the statement planned."""
        pool = engine.pool
        self._keeps = not (isinstance(pool, QueuePool) and pool.size() <= 1)
        """False when a host's pool holds one connection: kept, reads would wait for it in vain."""

    async def commit(self, change: InstanceChange) -> tuple[bool, ...]:
        """Queue ``change`` (with its linked changes) for the next group transaction; raises its refusal."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((change, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_forever())
        self._wake.set()
        held: tuple[bool, ...] = await future
        return held

    async def write(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in a write transaction of its own, on a connection of its own; its result."""
        async with self.connection() as connection:
            return await connection.run_sync(work)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction (BEGIN IMMEDIATE on SQLite: the write lock up front)."""
        async with self._engine.connect() as plain:
            connection = await plain.execution_options(**self._options)
            async with connection.begin():
                yield connection

    async def close(self) -> None:
        """Let the writer finish what is queued and the batch it is writing, then stop it.

        Cancelling it mid-batch would strand that batch's connection.
        """
        writer, self._writer = self._writer, None
        if writer is not None:
            self._closing = True
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        alone, self._alone = self._alone, None
        if alone is not None:
            await alone.close()

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write(batch)
            if self._closing:
                return

    async def _write(self, batch: list[tuple[InstanceChange, asyncio.Future[Any]]]) -> None:
        changes = [change for change, _ in batch]
        try:
            outcomes = await self._outcomes(changes)
        except Exception as exc:  # no connection: nobody's change was recorded
            logger.exception("group commit of %d change(s) failed", len(batch))
            outcomes = [exc] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _outcomes(self, changes: list[InstanceChange]) -> list[Any]:
        """Write ``changes``: alone in one statement if it fits (``db.alone``), else as a group transaction."""
        known = self._known
        if known is not None and fits_alone(changes, known):
            alone = await self._write_alone(changes, known)
            if alone is not None:
                return alone
        async with self._engine.connect() as plain:
            connection = await plain.execution_options(**self._options)
            outcomes: list[Any] = await connection.run_sync(commit_batch, changes, known)
        return outcomes

    async def _write_alone(self, changes: list[InstanceChange], known: KnownRows) -> list[Any] | None:
        """``db.alone.write_alone`` on the kept connection (opened again after it broke)."""
        if not self._keeps:
            async with self._engine.connect() as plain:
                lent = await plain.execution_options(isolation_level="AUTOCOMMIT")
                answer: list[Any] | None = await lent.run_sync(write_alone, changes, known)
            return answer
        connection = self._alone
        if connection is None:
            plain = await self._engine.connect()
            # One statement is atomic by itself: no BEGIN and COMMIT round trips around it.
            connection = self._alone = await plain.execution_options(isolation_level="AUTOCOMMIT")
        try:
            outcomes: list[Any] | None = await connection.run_sync(write_alone, changes, known)
        finally:
            if connection.invalidated:  # the server went away: the next commit connects anew
                self._alone = None
                await connection.close()
        return outcomes
