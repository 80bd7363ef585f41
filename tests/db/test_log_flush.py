"""SQLite: the writer flushes the log itself; the next batch is written while a flush runs.

A commit that must be on disk is answered only after a flush of the log that began once it was
written. With one commit per batch (``max_batch=1``) and a slow disk (each flush takes 0.2 s),
the second of two commits queued together is written without waiting for the first one's
flush, and each caller is answered after a flush that covers its commit. A flush that fails is the caller's
error: the commit is not known to be on disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.pool import Pool

from litestar_workflows.core.exceptions import DatabaseUnavailableError
from litestar_workflows.db import SQLAlchemyPersistence, log_flush
from tests.contract.kit import create, instance

WRITER = "lsw-sqlite-writer"


@pytest.fixture
async def persistence(tmp_path: Path) -> AsyncIterator[SQLAlchemyPersistence]:
    store = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{tmp_path / 'flush.sqlite3'}", create_all=True, max_batch=1)
    await store.list_instances()  # the tables, and the writer's connection, before the test's commits
    yield store
    await store.close()


def record_commits(events: list[tuple[str, str]]) -> Any:
    """Append ``("COMMIT", the instance ids written)`` for each transaction of the writer thread."""
    written: list[str] = []

    def trace(sql: str) -> None:
        if threading.current_thread().name != WRITER:
            return
        if sql.startswith("INSERT INTO workflow_instance"):
            written.append(sql)
        elif sql.strip().upper() == "COMMIT" and written:
            events.append(("COMMIT", " ".join(written)))
            written.clear()

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(trace)

    return on_connect


async def test_a_commit_is_answered_after_a_flush_that_began_once_it_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    flush = log_flush.LogFile.flush

    def slow(log: log_flush.LogFile) -> None:
        events.append(("flush begins", threading.current_thread().name))
        time.sleep(0.2)
        flush(log)
        events.append(("flush ends", ""))

    monkeypatch.setattr(log_flush.LogFile, "flush", slow)
    on_connect = record_commits(events)
    event.listen(Pool, "connect", on_connect)
    store = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{tmp_path / 'flush.sqlite3'}", create_all=True, max_batch=1)
    try:
        await store.list_instances()
        events.clear()
        first, second = instance(), instance()

        async def start(state: Any) -> None:
            await create(store, state)
            events.append(("answered", state.id.hex))

        # Another connection holds the write lock: the writer takes the first commit and waits,
        # the second is queued meanwhile; once the lock is free, the writer finds it waiting.
        holder = sqlite3.connect(tmp_path / "flush.sqlite3", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        both = asyncio.gather(start(first), start(second))
        await asyncio.sleep(0.1)
        holder.execute("ROLLBACK")
        holder.close()
        await both
    finally:
        event.remove(Pool, "connect", on_connect)
        await store.close()

    kinds = [kind for kind, _ in events]
    # The writer did not wait for the first commit's flush before writing the second: that
    # flush ran in the flusher thread (it may have served both commits).
    second_commit = [i for i, kind in enumerate(kinds) if kind == "COMMIT"][1]
    assert second_commit < kinds.index("flush ends")
    assert events[kinds.index("flush begins")][1] == "lsw-sqlite-flusher"
    for state in (first, second):
        written = next(i for i, (kind, ids) in enumerate(events) if kind == "COMMIT" and state.id.hex in ids.lower())
        answered = events.index(("answered", state.id.hex))
        began = [i for i in range(written, answered) if kinds[i] == "flush begins"]
        assert began, f"{state.id} was answered before a flush that began after its commit"
        assert "flush ends" in kinds[began[0] : answered]


async def test_a_failed_flush_is_the_callers_error(
    persistence: SQLAlchemyPersistence, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(_log: log_flush.LogFile) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(log_flush.LogFile, "flush", failing)
    with pytest.raises(DatabaseUnavailableError):
        await create(persistence, instance())


@pytest.mark.parametrize(("mode", "flushed_by_writer"), [("WAL", True), ("DELETE", False)])
def test_only_a_file_in_wal_mode_has_a_log_the_writer_flushes(
    tmp_path: Path, mode: str, flushed_by_writer: bool
) -> None:
    """Where the file system refuses WAL, the rollback journal stays: SQLite flushes at COMMIT, as configured."""
    engine = create_engine(f"sqlite:///{tmp_path / 'mode.sqlite3'}")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"PRAGMA journal_mode={mode}")
            log = log_flush.LogFile.of(connection)
            assert (log is not None) is flushed_by_writer
            if log is not None:
                connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
                connection.commit()
                log.flush()  # the log file of that database, which exists
                log.close()
    finally:
        engine.dispose()


async def test_closing_waits_for_the_flushes_under_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits handed to the flusher are flushed and answered before ``close`` returns."""
    flush = log_flush.LogFile.flush
    flushed: list[str] = []

    def slow(log: log_flush.LogFile) -> None:
        time.sleep(0.2)
        flush(log)
        flushed.append(threading.current_thread().name)

    monkeypatch.setattr(log_flush.LogFile, "flush", slow)
    path = tmp_path / "closing.sqlite3"
    store = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{path}", create_all=True, max_batch=1)
    await store.list_instances()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the writer waits with the first commit; the others queue behind it
    states = [instance() for _ in range(3)]
    commits = asyncio.gather(*(create(store, state) for state in states))
    await asyncio.sleep(0.1)
    holder.execute("ROLLBACK")
    holder.close()
    await store.close()  # waits for what was queued, then for the flusher

    assert commits.done()
    await commits  # every commit answered, none with an error
    assert "lsw-sqlite-flusher" in flushed
    reopened = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{path}")
    try:
        assert {found.id for found in await reopened.list_instances()} == {state.id for state in states}
    finally:
        await reopened.close()
