"""SQLite: an instance's update sets only the columns that may have changed.

SQLite rewrites the index entries of every column an UPDATE sets, whether its value changed or
not: setting the status (two indexes) and the columns only a start writes (the start time, one
more) made each commit of a running instance write three index pages it did not change. Observed
in the writer's statements: machine progress sets neither; a commit that changes the status
(a task completed: WAITING to RUNNING; the end: RUNNING to COMPLETED) sets it, and the stored
status follows.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

from litestar_workflows import BaseHumanStep, LocalExecutionEngine, WorkflowRegistry, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence
from tests.helpers import SetStep, chain


def set_columns(sql: str) -> set[str]:
    """The columns an ``UPDATE workflow_instance`` statement sets."""
    assignments = re.search(r"\bSET (.*?) WHERE\b", sql, re.DOTALL)
    assert assignments is not None, sql
    return {match.group(1) for match in re.finditer(r"(\w+)=", assignments.group(1))}


async def test_an_update_sets_the_status_only_when_it_changes(tmp_path: Path) -> None:
    updates: list[str] = []

    def trace(sql: str) -> None:
        # The state's updates (not the lease loops' claims and releases, which set the lease alone).
        writer = threading.current_thread().name == "lsw-sqlite-writer"
        if writer and sql.startswith("UPDATE workflow_instance SET") and " tokens=" in sql:
            updates.append(sql)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(trace)

    event.listen(Pool, "connect", on_connect)
    persistence = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{tmp_path / 'narrow.sqlite3'}", create_all=True)
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    workflow = chain(
        "narrow",
        [SetStep("a", "x", 1), SetStep("b", "y", 2), BaseHumanStep("approve", "Approve"), SetStep("c", "z", 3)],
    )
    try:
        await engine.start()
        started = await engine.start_workflow(workflow)
        assert (await engine.wait_for(started.id, timeout=10)).status is WorkflowStatus.WAITING
        await engine.complete_human_task(started.id, "approve", "bob", {})
        done = await engine.wait_for(started.id, timeout=10)
    finally:
        event.remove(Pool, "connect", on_connect)
        await engine.stop(0)
        await persistence.close()

    assert done.status is WorkflowStatus.COMPLETED
    assert (await _stored_status(tmp_path, started.id.hex)) == "completed"
    columns = [set_columns(sql) for sql in updates]
    # a -> b (progress), b -> approve (opens the task: WAITING), the completion (RUNNING), c ends it (COMPLETED)
    assert ["status" in written for written in columns] == [False, True, True, True]
    for written in columns:
        assert not written & {"workflow_name", "workflow_version", "started_at"}
        assert {"data", "tokens", "revision", "lease_expires_at"} <= written


async def _stored_status(folder: Path, instance_hex: str) -> str:
    connection = sqlite3.connect(folder / "narrow.sqlite3")
    try:
        rows = connection.execute("SELECT id, status FROM workflow_instance").fetchall()
    finally:
        connection.close()
    return str(next(status for identifier, status in rows if _hex(identifier) == instance_hex))


def _hex(identifier: Any) -> str:
    return bytes(identifier).hex() if isinstance(identifier, bytes) else str(identifier).replace("-", "")
