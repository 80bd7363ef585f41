"""The group commit's direct DBAPI writes store exactly what SQLAlchemy's execution would store."""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.ext.asyncio import create_async_engine

from litestar_workflows import (
    BaseHumanStep,
    InMemoryPersistence,
    LocalExecutionEngine,
    ParallelGateway,
    WorkflowRegistry,
)
from litestar_workflows.db.connect import json_dumps
from litestar_workflows.db.direct import direct_query
from litestar_workflows.db.models import WorkflowInstanceModel
from litestar_workflows.db.writer import _INSTANCE_ROWS, write_changes
from litestar_workflows.engine.persistence import InstanceChange
from tests.conftest import fresh_database
from tests.helpers import SetStep, flow


class RecordingPersistence(InMemoryPersistence):
    """In-memory persistence that keeps every committed change, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[InstanceChange] = []

    async def commit(self, change: InstanceChange) -> bool:
        held = await super().commit(change)
        self.changes.append(change)
        return held


def review() -> Any:
    return flow(
        "review",
        [
            SetStep("submit", "amount", Decimal("12.50")),
            ParallelGateway("fork", ["left", "right"]),
            SetStep("left", "seen_at", dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)),
            SetStep("right", "reference", UUID("12345678-1234-5678-1234-567812345678")),
            BaseHumanStep("approve", "Approve", candidate_groups=["managers"], accept_any_data=True),
            SetStep("done", "finished", True),
        ],
        [
            ("submit", "fork"),
            ("fork", "left"),
            ("fork", "right"),
            ("left", "approve"),
            ("right", "approve"),
            ("approve", "done"),
        ],
        "submit",
        ["done"],
    )


def _write_all(path: Path, changes: list[InstanceChange], *, direct: bool) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(f"sqlite+pysqlite:///{path}")

    @event.listens_for(engine, "connect")
    def foreign_keys(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    WorkflowInstanceModel.metadata.create_all(engine)
    for change in changes:
        with engine.begin() as connection:
            outcomes = write_changes(connection, [change], direct=direct)
            assert not any(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    with engine.connect() as connection:  # the precondition read, direct and through SQLAlchemy
        query = _INSTANCE_ROWS[1]
        direct_read = direct_query(query, connection.dialect)
        assert direct_read is not None
        for change in changes:
            expected = [tuple(row) for row in connection.execute(query, {"id": change.instance.id}).all()]
            assert direct_read.all(connection, {"id": change.instance.id}) == expected
            assert isinstance(expected[0][0], UUID)
    engine.dispose()
    raw = sqlite3.connect(path)
    try:
        tables = [row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(raw.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr) for table in tables}
    finally:
        raw.close()


async def test_direct_writes_store_the_same_bytes_as_sqlalchemy(tmp_path: Path) -> None:
    recorder = RecordingPersistence()
    engine = LocalExecutionEngine(WorkflowRegistry(), recorder)
    definition = review()
    first = await engine.start_workflow(definition, {"note": "first"})
    second = await engine.start_workflow(definition, {"note": "second"})
    for instance_id in (first.id, second.id):
        await engine.wait_for(instance_id, timeout=5)
    await engine.complete_human_task(first.id, "approve", "bob", {"approved": True})
    await engine.cancel_workflow(second.id, "changed my mind")
    await engine.wait_for(first.id, timeout=5)
    assert len(recorder.changes) >= 10

    direct = _write_all(tmp_path / "direct.sqlite3", recorder.changes, direct=True)
    through_sqlalchemy = _write_all(tmp_path / "sqlalchemy.sqlite3", recorder.changes, direct=False)
    assert direct == through_sqlalchemy
    assert len(direct["workflow_instance"]) == 2
    assert len(direct["workflow_human_task"]) == 2
    assert len(direct["workflow_step_execution"]) == len([e for c in recorder.changes for e in c.executions])


async def _write_all_postgres(url: str, changes: list[InstanceChange], *, direct: bool) -> dict[str, list[Any]]:
    engine = create_async_engine(url, json_serializer=json_dumps, json_deserializer=msgspec.json.decode)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(WorkflowInstanceModel.metadata.create_all)
        for change in changes:
            async with engine.begin() as connection:
                outcomes = await connection.run_sync(functools.partial(write_changes, direct=direct), [change])
                assert not any(isinstance(outcome, Exception) for outcome in outcomes), outcomes
        tables: dict[str, list[Any]] = {}
        async with engine.connect() as connection:
            for table in WorkflowInstanceModel.metadata.sorted_tables:
                found = await connection.exec_driver_sql(f'SELECT * FROM "{table.name}"')
                tables[table.name] = sorted((tuple(row) for row in found), key=repr)
        return tables
    finally:
        await engine.dispose()


@pytest.fixture
def two_postgres_databases(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with fresh_database("postgresql", tmp_path) as one, fresh_database("postgresql", tmp_path) as other:
        yield one, other


async def test_direct_writes_on_postgresql_store_the_same_rows_as_sqlalchemy(
    two_postgres_databases: tuple[str, str],
) -> None:
    recorder = RecordingPersistence()
    engine = LocalExecutionEngine(WorkflowRegistry(), recorder)
    first = await engine.start_workflow(review(), {"note": "first"})
    await engine.wait_for(first.id, timeout=5)
    await engine.complete_human_task(first.id, "approve", "bob", {"approved": True})
    await engine.wait_for(first.id, timeout=5)
    direct, through_sqlalchemy = two_postgres_databases
    written = [
        await _write_all_postgres(direct, recorder.changes, direct=True),
        await _write_all_postgres(through_sqlalchemy, recorder.changes, direct=False),
    ]
    assert written[0] == written[1]
    assert len(written[0]["workflow_step_execution"]) == len([e for c in recorder.changes for e in c.executions])
