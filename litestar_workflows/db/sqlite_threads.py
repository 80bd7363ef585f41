"""SQLite files: the engine's own reads and writes run as whole functions in threads.

Through aiosqlite every statement is a round trip between the event loop and the driver's
thread, on top of SQLAlchemy's greenlet bridge: measured here, a group commit (BEGIN IMMEDIATE,
a read, two writes, COMMIT) costs about 1.9 ms that way and 0.75 ms, of which 0.23 ms is the
fsync, when the same transaction runs as one synchronous function in a thread. So the hot path
(group commits, loading an instance, reading a task) uses a synchronous pysqlite engine on the
same file: one writer thread that keeps its connection, and a small pool of reader threads (WAL
lets them read while the writer writes). Everything else, including transactional steps'
sessions and the API's repository queries, keeps using the async engine; both see the same
database, and SQLite's locking (``BEGIN IMMEDIATE`` + busy timeout) orders their writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import OperationalError

__all__ = ("BUSY_TIMEOUT_MS", "DatabaseBusy", "SQLiteThreads", "file_database_url")


class DatabaseBusy(Exception):
    """Another connection holds SQLite's write lock: :meth:`SQLiteThreads.write_here` wrote nothing."""


_T = TypeVar("_T")
BUSY_TIMEOUT_MS = 30_000
"""What every connection of the engine waits for SQLite's locks (set by the persistence's connect hook)."""


def file_database_url(url: URL) -> URL | None:
    """The pysqlite URL of a SQLite *file* database, or None (other databases, in-memory SQLite)."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    # ``file:`` URIs (shared-cache memory databases among them) are left to the async engine.
    if database in {"", ":memory:"} or database.startswith("file:"):
        return None
    return url.set(drivername="sqlite+pysqlite")


def _set_busy_timeout(connection: Connection, milliseconds: int) -> None:
    cursor = connection.connection.cursor()  # on the DBAPI connection: no SQLAlchemy transaction begins
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(milliseconds)}")
    finally:
        cursor.close()


class SQLiteThreads:
    """A synchronous engine on a SQLite file and the threads that use it.

    Args:
        url: A ``sqlite+pysqlite`` URL of a file database.
        configure: Called with the new engine to install the connection pragmas and BEGIN mode.
        engine_options: More keyword arguments for ``create_engine`` (JSON serializers, ...).
    """

    __slots__ = ("_connection", "_here", "_readers", "_writer", "engine")

    def __init__(self, url: URL, configure: Callable[[Engine], None], **engine_options: Any) -> None:
        self.engine = create_engine(url, connect_args={"check_same_thread": False}, **engine_options)
        configure(self.engine)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="lsw-sqlite-writer")
        self._readers = ThreadPoolExecutor(2, thread_name_prefix="lsw-sqlite-reader")
        self._connection: Connection | None = None
        """The writer thread's connection, opened on first use and kept (only that thread touches it)."""
        self._here: Connection | None = None
        """The connection :meth:`write_here` uses on the event loop's thread; it never waits for a lock."""

    async def write(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one write transaction (BEGIN IMMEDIATE) in the writer thread; commit, return its result."""
        return await asyncio.wrap_future(self._writer.submit(self._write_in_thread, work))

    async def read(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` on a pooled connection in a reader thread.

        A caller that is cancelled stops waiting, but a thread never stops half-way: it finishes (and
        commits or rolls back) what it started, and :meth:`close` waits for it.
        """
        return await asyncio.wrap_future(self._readers.submit(self._read_in_thread, work))

    def write_here(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one write transaction on the calling thread (the event loop's), now.

        For a change nobody else is committing with: handing it to the writer thread and back
        costs more than the transaction itself (thread wake-ups and the GIL passed back and
        forth; a sequential workflow on SQLite took about 20% longer that way). The loop is
        blocked meanwhile, so this connection never waits for SQLite's write lock: when another
        connection (a transactional step's session, an API write) holds it, ``DatabaseBusy`` is
        raised, nothing was written, and the caller uses :meth:`write` instead.
        """
        connection = self._here
        if connection is None:
            connection = self.engine.connect().execution_options(lsw_begin="IMMEDIATE")
            _set_busy_timeout(connection, 0)
            self._here = connection
        try:
            with connection.begin():
                return work(connection)
        except (sqlite3.OperationalError, OperationalError) as exc:
            error = exc.orig if isinstance(exc, OperationalError) else exc
            code = getattr(error, "sqlite_errorcode", None)
            if code is not None and code & 0xFF == sqlite3.SQLITE_BUSY:  # extended codes included
                raise DatabaseBusy from exc
            self._discard_here(connection)
            raise
        except BaseException:
            self._discard_here(connection)
            raise

    def _discard_here(self, connection: Connection) -> None:
        if connection.invalidated or connection.closed:
            self._here = None

    def _write_in_thread(self, work: Callable[[Connection], _T]) -> _T:
        connection = self._connection
        if connection is None:
            connection = self._connection = self.engine.connect().execution_options(lsw_begin="IMMEDIATE")
        try:
            with connection.begin():
                return work(connection)
        except BaseException:
            if connection.invalidated or connection.closed:
                self._connection = None
            raise

    def _read_in_thread(self, work: Callable[[Connection], _T]) -> _T:
        with self.engine.connect() as connection:
            return work(connection)

    async def close(self) -> None:
        """Close the writer's connection after the work queued before it, stop the threads, dispose the engine."""
        here, self._here = self._here, None
        if here is not None:
            with contextlib.suppress(Exception):  # back to the pool as every connection is configured
                _set_busy_timeout(here, BUSY_TIMEOUT_MS)
            here.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            await asyncio.wrap_future(self._writer.submit(connection.close))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._shutdown)

    def _shutdown(self) -> None:
        # ``wait=True``: work already submitted (a read whose caller was cancelled) runs to its end.
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.engine.dispose()
