"""SQLite: a commit someone is told of is flushed to disk; machine progress waits for the next flush.

Observed in the writer thread's statements (``sqlite3`` trace) and its flushes of the log file
(``db.log_flush``), in order: a commit followed by a flush before the next commit was on disk
when its caller was answered (the flush covers everything logged before it). Every COMMIT runs
at ``NORMAL``, which writes the log without flushing it (a killed process loses nothing, see
tests/durability): the writer flushes the log itself, as SQLite does at ``FULL``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from litestar_workflows import BaseHumanStep, LocalExecutionEngine, WorkflowRegistry, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence, log_flush
from tests.helpers import SetStep, chain

_WORKFLOW_WRITES = (
    "INSERT INTO workflow_instance",
    "INSERT INTO workflow_step_execution",
    "UPDATE workflow_human_task",
)


@contextmanager
def writer_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement the SQLite writer thread runs from now on, and ``FLUSH`` for each flush of the log."""
    events: list[str] = []

    def trace(sql: str) -> None:
        if threading.current_thread().name == "lsw-sqlite-writer":
            events.append(sql)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(trace)

    flush = log_flush.LogFile.flush

    def recorded(log: log_flush.LogFile) -> None:
        flush(log)
        events.append("FLUSH")

    monkeypatch.setattr(log_flush.LogFile, "flush", recorded)
    event.listen(Pool, "connect", on_connect)
    try:
        yield events
    finally:
        event.remove(Pool, "connect", on_connect)


def workflow_commits(events: list[str], configured: str) -> list[tuple[str, bool]]:
    """Each committed transaction that wrote a workflow's progress: its ``synchronous`` level, and
    whether the log was flushed after it, before the next commit."""
    level, writes = configured, False
    commits: list[tuple[str, bool]] = []
    for sql in events:
        if sql == "FLUSH":
            if commits:
                commits[-1] = (commits[-1][0], True)
        elif match := re.fullmatch(r"PRAGMA synchronous=(\w+)", sql.strip()):
            level = match[1]
        elif sql.startswith(_WORKFLOW_WRITES):
            writes = True
        elif sql.strip().upper() == "COMMIT":
            if writes:
                commits.append((level, False))
            writes = False
    return commits


async def run_workflows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> list[tuple[str, bool]]:
    """Three machine steps, then an approval between two steps: the levels of their commits, in order."""
    persistence = SQLAlchemyPersistence(
        url=f"sqlite+aiosqlite:///{tmp_path / 'flush.sqlite3'}", create_all=True, **options
    )
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    machine = chain("machine", [SetStep("a", "x", 1), SetStep("b", "y", 2), SetStep("c", "z", 3)])
    approval = chain(
        "approval", [SetStep("prepare", "x", 1), BaseHumanStep("approve", "Approve"), SetStep("finish", "y", 2)]
    )
    with writer_events(monkeypatch) as events:
        try:
            await engine.start()
            started = await engine.start_workflow(machine)
            assert (await engine.wait_for(started.id, timeout=10)).status is WorkflowStatus.COMPLETED
            started = await engine.start_workflow(approval)
            await engine.wait_for(started.id, timeout=10)
            await engine.complete_human_task(started.id, "approve", "bob", {})
            assert (await engine.wait_for(started.id, timeout=10)).status is WorkflowStatus.COMPLETED
        finally:
            await engine.stop(0)
            await persistence.close()
    return workflow_commits(events, options.get("sqlite_synchronous", "FULL"))


async def test_machine_progress_is_flushed_with_the_next_acknowledged_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = await run_workflows(tmp_path, monkeypatch)
    assert {level for level, _ in commits} == {"NORMAL"}  # the writer flushes, not the COMMIT
    # start, a -> b, b -> c (progress), c ends it; start, prepare opens a task, the completion, the end
    assert [flushed for _, flushed in commits] == [True, False, False, True, True, True, True, True]


async def test_flush_every_commit_flushes_machine_progress_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert await run_workflows(tmp_path, monkeypatch, flush_every_commit=True) == [("NORMAL", True)] * 8


async def test_a_file_configured_normal_is_never_flushed_at_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = await run_workflows(tmp_path, monkeypatch, sqlite_synchronous="NORMAL")
    assert commits == [("NORMAL", False)] * 8
