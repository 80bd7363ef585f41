"""SQLite: a commit someone is told of is flushed to disk; machine progress waits for the next flush.

Observed in the writer thread's own statements (``sqlite3`` trace): the ``synchronous`` level in
force at each ``COMMIT`` of a workflow's transactions. At ``FULL`` SQLite flushes the log at that
commit, and with it everything logged before; at ``NORMAL`` the commit is in the log (a killed
process loses nothing, see tests/durability) but not yet flushed.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

from litestar_workflows import BaseHumanStep, LocalExecutionEngine, WorkflowRegistry, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence
from tests.helpers import SetStep, chain

_WORKFLOW_WRITES = (
    "INSERT INTO workflow_instance",
    "INSERT INTO workflow_step_execution",
    "UPDATE workflow_human_task",
)


@contextmanager
def writer_statements() -> Iterator[list[str]]:
    """Every statement the SQLite writer thread runs from now on, in order."""
    statements: list[str] = []

    def trace(sql: str) -> None:
        if threading.current_thread().name == "lsw-sqlite-writer":
            statements.append(sql)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(trace)

    event.listen(Pool, "connect", on_connect)
    try:
        yield statements
    finally:
        event.remove(Pool, "connect", on_connect)


def levels_at_workflow_commits(statements: list[str], configured: str) -> list[str]:
    """The ``synchronous`` level of each committed transaction that wrote a workflow's progress."""
    level, writes, levels = configured, False, []
    for sql in statements:
        if match := re.fullmatch(r"PRAGMA synchronous=(\w+)", sql.strip()):
            level = match[1]
        elif sql.startswith(_WORKFLOW_WRITES):
            writes = True
        elif sql.strip().upper() == "COMMIT":
            if writes:
                levels.append(level)
            writes = False
    return levels


async def run_workflows(tmp_path: Path, **options: Any) -> list[str]:
    """Three machine steps, then an approval between two steps: the levels of their commits, in order."""
    persistence = SQLAlchemyPersistence(
        url=f"sqlite+aiosqlite:///{tmp_path / 'flush.sqlite3'}", create_all=True, **options
    )
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    machine = chain("machine", [SetStep("a", "x", 1), SetStep("b", "y", 2), SetStep("c", "z", 3)])
    approval = chain(
        "approval", [SetStep("prepare", "x", 1), BaseHumanStep("approve", "Approve"), SetStep("finish", "y", 2)]
    )
    with writer_statements() as statements:
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
    return levels_at_workflow_commits(statements, options.get("sqlite_synchronous", "FULL"))


async def test_machine_progress_is_flushed_with_the_next_acknowledged_commit(tmp_path: Path) -> None:
    levels = await run_workflows(tmp_path)
    # start, a -> b, b -> c (progress), c ends it; start, prepare opens a task, the completion, the end
    assert levels == ["FULL", "NORMAL", "NORMAL", "FULL", "FULL", "FULL", "FULL", "FULL"]


async def test_flush_every_commit_flushes_machine_progress_too(tmp_path: Path) -> None:
    assert await run_workflows(tmp_path, flush_every_commit=True) == ["FULL"] * 8


async def test_a_file_configured_normal_is_never_flushed_at_commit(tmp_path: Path) -> None:
    assert await run_workflows(tmp_path, sqlite_synchronous="NORMAL") == ["NORMAL"] * 8
