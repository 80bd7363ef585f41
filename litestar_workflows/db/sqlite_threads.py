"""SQLite files: a synchronous engine for the threads that read and write the file.

Through aiosqlite every statement is a round trip between the event loop and the driver's
thread, on top of SQLAlchemy's greenlet bridge: measured here, a group commit (BEGIN IMMEDIATE,
a read, two writes, COMMIT) costs about 1.9 ms that way and 0.75 ms, of which 0.23 ms is the
fsync, when the same transaction runs as one synchronous function in a thread. So the engine's
own work on a file uses a synchronous pysqlite engine on the same file: every write goes to one
writer thread (``db.thread_writer``), and reads (loading an instance, reading a task, listing)
to a small pool of reader threads (WAL lets them read while the writer writes). Transactional
steps' sessions and the API's repository queries keep using the async engine; both see the
same database, and SQLite's locking (``BEGIN IMMEDIATE`` + busy timeout) orders their writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, Connection

__all__ = ("BUSY_TIMEOUT_MS", "SQLiteFile", "file_database_url")

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


class SQLiteFile:
    """A synchronous engine on a SQLite file, and the reader threads that use it.

    Args:
        url: A ``sqlite+pysqlite`` URL of a file database.
        configure: Called with the new engine to install the connection pragmas and BEGIN mode.
        engine_options: More keyword arguments for ``create_engine`` (JSON serializers, ...).
    """

    __slots__ = ("_readers", "engine")

    def __init__(self, url: URL, configure: Callable[[Engine], None], **engine_options: Any) -> None:
        self.engine = create_engine(url, connect_args={"check_same_thread": False}, **engine_options)
        configure(self.engine)
        self._readers = ThreadPoolExecutor(2, thread_name_prefix="lsw-sqlite-reader")

    async def read(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` on a pooled connection in a reader thread.

        A caller that is cancelled stops waiting, but a thread never stops half-way: it finishes
        what it started, and :meth:`close` waits for it.
        """
        return await asyncio.wrap_future(self._readers.submit(self._read_in_thread, work))

    def _read_in_thread(self, work: Callable[[Connection], _T]) -> _T:
        with self.engine.connect() as connection:
            return work(connection)

    async def close(self) -> None:
        """Stop the reader threads (after the reads under way) and dispose the engine."""
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown)

    def _shutdown(self) -> None:
        self._readers.shutdown(wait=True)
        self.engine.dispose()
