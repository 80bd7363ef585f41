"""The engine on SQL persistence (SQLite and PostgreSQL): semantics, restarts, races, batches, queries."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import text

from litestar_workflows import (
    BaseHumanStep,
    LocalExecutionEngine,
    ParallelGateway,
    StepStatus,
    TaskAlreadyCompletedError,
    TaskStatus,
    TimerStep,
    TransactionalStep,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.exceptions import ConcurrentUpdateError
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.engine.persistence import InstanceQuery, TaskQuery
from litestar_workflows.engine.transitions import Transition
from tests.helpers import FuncStep, SetStep, chain, flow

APPROVAL_FORM = {"type": "object", "properties": {"approved": {"type": "boolean"}}, "required": ["approved"]}


def approval() -> WorkflowDefinition:
    return flow(
        "approval",
        [
            SetStep("submit", "submitted", True),
            BaseHumanStep("approve", "Approve", form_schema=APPROVAL_FORM),
            SetStep("done"),
        ],
        [("submit", "approve"), ("approve", "done")],
        "submit",
        ["done"],
    )


@pytest.fixture
async def sql(database_url: str) -> AsyncIterator[SQLAlchemyPersistence]:
    persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
    yield persistence
    await persistence.close()


async def test_sequential_parallel_human_timer_and_cancel_on_sql(sql: SQLAlchemyPersistence) -> None:
    registry = WorkflowRegistry()
    engine = LocalExecutionEngine(registry, sql)
    parallel = flow(
        "fan",
        [
            ParallelGateway("fork", ["left", "right"]),
            SetStep("left", "shared", "left", delay=0.02),
            SetStep("right", "shared", "right"),
            SetStep("join"),
        ],
        [("left", "join"), ("right", "join")],
        "fork",
        ["join"],
    )
    fanned = await engine.start_workflow(parallel)
    done = await engine.wait_for(fanned.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["shared"] == "right"
    assert [e.step_name for e in done.context.step_history].count("join") == 1

    approving = approval()
    waiting = await engine.start_workflow(approving, {"amount": Decimal("12.50")})
    state = await engine.wait_for(waiting.id, timeout=10)
    assert state.status is WorkflowStatus.WAITING
    completed = await engine.complete_human_task(waiting.id, "approve", "bob", {"approved": True, "amount": 1})
    finished = await engine.wait_for(completed.id, timeout=10)
    assert finished.status is WorkflowStatus.COMPLETED
    assert finished.data["amount"] == Decimal("12.50")  # not overwritten by the approver
    assert finished.context.step_history[1].completed_by == "bob"

    timer = chain("timer", [TimerStep("wait", dt.timedelta(milliseconds=50)), SetStep("after")])
    timed = await engine.start_workflow(timer)
    stored = await sql.load_instance(timed.id)
    assert stored is not None and stored.tokens[0].not_before is not None
    assert (await engine.wait_for(timed.id, timeout=10)).status is WorkflowStatus.COMPLETED

    cancelled = await engine.start_workflow(approving)
    await engine.wait_for(cancelled.id, timeout=10)
    await engine.cancel_workflow(cancelled.id, "not needed")
    tasks = await sql.list_tasks(instance_id=cancelled.id)
    assert [t.status for t in tasks] == [TaskStatus.CANCELED]
    await engine.stop(0)


async def test_what_get_instance_returns_survives_a_restart_unchanged(database_url: str) -> None:
    registry = WorkflowRegistry()
    registry.register_definition(approval())

    async def broken(context: WorkflowContext) -> None:
        raise RuntimeError("kaput")

    registry.register_definition(chain("broken", [FuncStep("bad", broken)]))
    first = SQLAlchemyPersistence(url=database_url, create_all=True)
    engine = LocalExecutionEngine(registry, first)
    data: dict[str, Any] = {
        "when": dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC),
        "day": dt.date(2026, 11, 25),
        "ref": uuid4(),
        "amount": Decimal("1999.99"),
        "nested": {"items": [1, "two", None, {"deep": True}]},
    }
    waiting = await engine.start_workflow("approval", data)
    completed = await engine.start_workflow("approval", data)
    failed = await engine.start_workflow("broken", data)
    await engine.wait_for(completed.id, timeout=10)
    await engine.complete_human_task(completed.id, "approve", "ann", {"approved": False})
    for instance in (waiting, completed, failed):
        await engine.wait_for(instance.id, timeout=10)
    before = [await engine.get_instance(i.id) for i in (waiting, completed, failed)]
    await engine.stop(0)
    await first.close()

    second = SQLAlchemyPersistence(url=database_url)
    restarted = LocalExecutionEngine(registry, second)
    after = [await restarted.get_instance(i.id) for i in (waiting, completed, failed)]
    assert [s.status for s in after] == [WorkflowStatus.WAITING, WorkflowStatus.COMPLETED, WorkflowStatus.FAILED]
    assert before == after
    assert after[0].data == {**data, "submitted": True}
    await second.close()


async def test_twenty_engines_racing_for_one_task_have_exactly_one_winner(database_url: str) -> None:
    registry = WorkflowRegistry()
    registry.register_definition(approval())
    setup = SQLAlchemyPersistence(url=database_url, create_all=True)
    starter = LocalExecutionEngine(registry, setup)
    instance = await starter.start_workflow("approval")
    await starter.wait_for(instance.id, timeout=10)
    (task,) = await setup.list_tasks(instance_id=instance.id, status=TaskStatus.OPEN)
    await starter.stop(0)

    stores = [SQLAlchemyPersistence(url=database_url) for _ in range(20)]
    engines = [LocalExecutionEngine(registry, store) for store in stores]
    for store in stores:  # connect first, so the race is about the completion, not the connection set-up
        await store.get_task(task.id)

    async def complete(index: int) -> str:
        try:
            await engines[index].complete_task(task.id, f"user{index}", {"approved": index % 2 == 0})
        except TaskAlreadyCompletedError:
            return "late"
        return f"user{index}"

    results = await asyncio.gather(*(complete(i) for i in range(20)))
    winners = [r for r in results if r != "late"]
    assert len(winners) == 1
    for engine in engines:
        await engine.stop(0)
    final = await engines[0].wait_for(instance.id, timeout=10)
    assert final.status is WorkflowStatus.COMPLETED
    approvals = [e for e in final.context.step_history if e.step_name == "approve"]
    assert len(approvals) == 1 and approvals[0].completed_by == winners[0]
    assert final.data["approved"] == (int(winners[0].removeprefix("user")) % 2 == 0)
    stored_task = await setup.get_task(task.id)
    assert stored_task is not None and stored_task.completed_by == winners[0]
    for store in [setup, *stores]:
        await store.close()


async def test_a_refused_change_does_not_spoil_the_rest_of_its_group(sql: SQLAlchemyPersistence) -> None:
    registry = WorkflowRegistry()
    engine = LocalExecutionEngine(registry, sql)
    definition = approval()
    ids = [(await engine.start_workflow(definition)).id for _ in range(3)]
    for instance_id in ids:
        await engine.wait_for(instance_id, timeout=10)
    states = [await sql.load_instance(instance_id) for instance_id in ids]
    changes = []
    for index, state in enumerate(states):
        assert state is not None
        transition = Transition(definition, state, dt.datetime.now(dt.UTC))
        transition.state.context.data["touched"] = index
        stale = index == 1
        changes.append(transition.to_change(state.revision - 1 if stale else state.revision))
    outcomes = await asyncio.gather(*(sql.commit(change) for change in changes), return_exceptions=True)
    assert isinstance(outcomes[1], ConcurrentUpdateError)
    assert not isinstance(outcomes[0], BaseException) and not isinstance(outcomes[2], BaseException)
    reloaded = [await sql.load_instance(instance_id) for instance_id in ids]
    assert [r.data.get("touched") if r else None for r in reloaded] == [0, None, 2]
    await engine.stop(0)


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


async def test_paginated_queries_and_task_holders(sql: SQLAlchemyPersistence) -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), sql)
    offered = flow(
        "offered",
        [BaseHumanStep("review", "Review", candidate_groups=["finance", "legal"]), SetStep("end")],
        [("review", "end")],
        "review",
        ["end"],
    )
    for _ in range(5):
        await engine.start_workflow(offered)
    page, total = await sql.query_instances(InstanceQuery(workflow_name="offered", limit=2, offset=1))
    assert total == 5 and len(page) == 2
    tasks, total = await sql.query_tasks(TaskQuery(status=TaskStatus.OPEN, candidate_group="legal", limit=10))
    assert total == 5
    mine, _ = await sql.query_tasks(TaskQuery(visible_to=("carol", frozenset({"finance"}))))
    theirs, _ = await sql.query_tasks(TaskQuery(visible_to=("mallory", frozenset({"sales"}))))
    assert len(mine) == 5 and theirs == []
    claimed = await sql.update_open_task(tasks[0].id, claimed_by="carol")
    assert claimed.claimed_by == "carol"
    reassigned = await sql.update_open_task(tasks[0].id, assignee="dave")
    assert reassigned.assignee == "dave"
    visible, _ = await sql.query_tasks(TaskQuery(visible_to=("carol", frozenset({"finance"}))))
    assert tasks[0].id not in {t.id for t in visible}
    await engine.stop(0)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


async def test_leases_claims_and_takeover_in_the_database(database_url: str) -> None:
    clock = Clock()
    registry = WorkflowRegistry()
    gate = asyncio.Event()

    async def blocked(context: WorkflowContext) -> None:
        await gate.wait()

    registry.register_definition(chain("leased", [FuncStep("wait", blocked), SetStep("end")]))
    one_store = SQLAlchemyPersistence(url=database_url, create_all=True)
    two_store = SQLAlchemyPersistence(url=database_url)
    one = LocalExecutionEngine(registry, one_store, owner_id="one", clock=clock, lease_seconds=30)
    two = LocalExecutionEngine(registry, two_store, owner_id="two", clock=clock, lease_seconds=30)
    instance = await one.start_workflow("leased")
    await asyncio.sleep(0.05)
    assert await two.recover() == 0  # held by "one"
    assert not await two_store.acquire_lease(instance.id, "two", clock.now, clock.now + dt.timedelta(seconds=5))
    await one_store.renew_leases("one", [instance.id], clock.now + dt.timedelta(seconds=60))
    await one.dispatcher.close(0)  # "one" dies without releasing its lease
    clock.now += dt.timedelta(seconds=61)
    gate.set()
    assert await two.recover() == 1
    done = await two.wait_for(instance.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert await two_store.claim_runnable("three", clock.now, clock.now, 10) == []  # nothing left to run
    await two_store.release_leases("two")
    await two_store.release_leases("two", [])
    await two.stop(0)
    for store in (one_store, two_store):
        await store.close()


async def test_due_timers_and_definitions_are_queryable(sql: SQLAlchemyPersistence) -> None:
    clock = Clock()
    registry = WorkflowRegistry()
    registry.register_definition(chain("later", [TimerStep("wait", dt.timedelta(hours=1)), SetStep("end")]))
    engine = LocalExecutionEngine(registry, sql, clock=clock)
    instance = await engine.start_workflow("later")
    assert await sql.list_due_timers(clock.now) == []
    due = await sql.list_due_timers(clock.now + dt.timedelta(hours=2))
    assert [(item[0], item[2]) for item in due] == [(instance.id, clock.now + dt.timedelta(hours=1))]
    await sql.open(registry)
    await sql.open(registry)  # idempotent
    async with sql.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT name, version FROM workflow_definition"))).all()
    assert [tuple(row) for row in rows] == [("later", "1")]
    await engine.stop(0)


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
