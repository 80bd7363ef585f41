"""What only the SQL persistence does: transactional steps' own rows, definitions recorded, a shared config.

Everything the contract says of every persistence is tested in ``tests/contract``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from litestar_workflows import (
    LocalExecutionEngine,
    StepStatus,
    TimerStep,
    TransactionalStep,
    WorkflowContext,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.db import SQLAlchemyPersistence
from tests.helpers import SetStep, chain


@pytest.fixture
async def sql(database_url: str) -> AsyncIterator[SQLAlchemyPersistence]:
    persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
    yield persistence
    await persistence.close()


class LedgerEntry(TransactionalStep):
    def __init__(self, fail_first: bool) -> None:
        super().__init__("ledger", max_retries=1)
        self.fail_first = fail_first
        self.calls = 0

    async def execute(self, context: WorkflowContext) -> Any:
        self.calls += 1
        await context.session.execute(
            text("INSERT INTO ledger_rows (instance_id, attempt) VALUES (:i, :a)"),
            {"i": str(context.instance_id), "a": context.attempt},
        )
        if self.fail_first and self.calls == 1:
            raise RuntimeError("after writing its row")
        return "booked"


async def test_a_transactional_step_commits_its_rows_exactly_once(sql: SQLAlchemyPersistence) -> None:
    async with sql.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE ledger_rows (instance_id VARCHAR(64), attempt INTEGER)"))
    step = LedgerEntry(fail_first=True)
    engine = LocalExecutionEngine(WorkflowRegistry(), sql)
    started = await engine.start_workflow(chain("ledger", [step, SetStep("end")]))
    done = await engine.wait_for(started.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert [(e.step_name, e.status) for e in done.context.step_history][:2] == [
        ("ledger", StepStatus.FAILED),
        ("ledger", StepStatus.SUCCEEDED),
    ]
    async with sql.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT attempt FROM ledger_rows"))).all()
    assert [row[0] for row in rows] == [2]  # the failed attempt's row was rolled back with it
    await engine.stop(0)


async def test_open_records_the_definitions_once(sql: SQLAlchemyPersistence) -> None:
    registry = WorkflowRegistry()
    registry.register_definition(chain("later", [TimerStep("wait", dt.timedelta(hours=1)), SetStep("end")]))
    await sql.open(registry)
    await sql.open(registry)  # idempotent
    async with sql.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT name, version FROM workflow_definition"))).all()
    assert [tuple(row) for row in rows] == [("later", "1")]


async def test_the_persistence_can_share_an_advanced_alchemy_config(tmp_path: Any) -> None:
    from advanced_alchemy.config import SQLAlchemyAsyncConfig

    config = SQLAlchemyAsyncConfig(connection_string=f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}")
    persistence = SQLAlchemyPersistence(config, create_all=True)
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    started = await engine.start_workflow(chain("shared", [SetStep("only", "ok", True)]))
    assert (await engine.wait_for(started.id, timeout=10)).data == {"ok": True}
    await engine.stop(0)
    await persistence.close()  # the host's engine is not disposed by us
    assert persistence.engine is config.get_engine()
    await config.get_engine().dispose()
    with pytest.raises(ValueError, match="not both"):
        SQLAlchemyPersistence(config, url="sqlite+aiosqlite://")
    with pytest.raises(ValueError, match="synchronous"):
        SQLAlchemyPersistence(url="sqlite+aiosqlite://", sqlite_synchronous="OFF")
