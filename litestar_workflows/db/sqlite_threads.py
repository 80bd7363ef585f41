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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, Connection

__all__ = ("SQLiteThreads", "file_database_url")

_T = TypeVar("_T")


def file_database_url(url: URL) -> URL | None:
    """The pysqlite URL of a SQLite *file* database, or None (other databases, in-memory SQLite)."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    # ``file:`` URIs (shared-cache memory databases among them) are left to the async engine.
    if database in {"", ":memory:"} or database.startswith("file:"):
        return None
    return url.set(drivername="sqlite+pysqlite")


class SQLiteThreads:
    """A synchronous engine on a SQLite file and the threads that use it.

    Args:
        url: A ``sqlite+pysqlite`` URL of a file database.
        configure: Called with the new engine to install the connection pragmas and BEGIN mode.
        engine_options: More keyword arguments for ``create_engine`` (JSON serializers, ...).
    """

    __slots__ = ("_connection", "_readers", "_writer", "engine")

    def __init__(self, url: URL, configure: Callable[[Engine], None], **engine_options: Any) -> None:
        self.engine = create_engine(url, connect_args={"check_same_thread": False}, **engine_options)
        configure(self.engine)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="lsw-sqlite-writer")
        self._readers = ThreadPoolExecutor(2, thread_name_prefix="lsw-sqlite-reader")
        self._connection: Connection | None = None
        """The writer thread's connection, opened on first use and kept (only that thread touches it)."""

    async def write(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one write transaction (BEGIN IMMEDIATE) in the writer thread; commit, return its result."""
        return await asyncio.wrap_future(self._writer.submit(self._write_in_thread, work))

    async def read(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` on a pooled connection in a reader thread.

        A caller that is cancelled stops waiting, but a thread never stops half-way: it finishes (and
        commits or rolls back) what it started, and :meth:`close` waits for it.
        """
        return await asyncio.wrap_future(self._readers.submit(self._read_in_thread, work))

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
