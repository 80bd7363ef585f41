"""A change the database refuses fails alone: every other change of its group commits.

The changes here bypass the engine's checks on purpose (they are built by hand), standing for
whatever a check might miss: a task row whose foreign key points nowhere (refused by SQLite and
PostgreSQL), a value the JSON encoder cannot write (a bug), and on PostgreSQL a NUL character in
JSONB or TEXT and a user id longer than its column. They race many good changes into the same
group commits; only their own callers get ``ChangeRefusedError``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from litestar_workflows import (
    LocalExecutionEngine,
    StepStatus,
    TransactionalStep,
    WorkflowContext,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.exceptions import ChangeRefusedError
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.db.isolation import write_isolated
from litestar_workflows.engine.persistence import InstanceChange
from tests.contract.kit import instance, task
from tests.helpers import FuncStep, SetStep, chain


@pytest.fixture
async def sql(database_url: str) -> AsyncIterator[SQLAlchemyPersistence]:
    persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
    yield persistence
    await persistence.close()


def starting(data: dict[str, Any] | None = None) -> InstanceChange:
    """A change creating an instance that waits for a task: an instance row, a task row and nothing else."""
    state = instance("review", data=data, status=WorkflowStatus.WAITING)
    return InstanceChange(state, -1, opened_tasks=[task(state, step="check")])


def orphan_task() -> InstanceChange:
    change = starting()
    change.opened_tasks[0].instance_id = uuid4()  # no such instance: the foreign key refuses the row
    return change


def unencodable() -> InstanceChange:
    return starting({"tags": {"a", "b"}})  # a set: the JSON encoder cannot write it


def nul_in_data() -> InstanceChange:
    return starting({"note": "a\x00b"})


def nul_in_text() -> InstanceChange:
    change = starting()
    change.opened_tasks[0].title = "Check \x00"
    return change


def user_id_too_long() -> InstanceChange:
    change = starting()
    change.opened_tasks[0].assignee = "u" * 300
    return change


BAD_EVERYWHERE: list[Callable[[], InstanceChange]] = [orphan_task, unencodable]
BAD_ON_POSTGRESQL: list[Callable[[], InstanceChange]] = [nul_in_data, nul_in_text, user_id_too_long]


def bad_changes(sql: SQLAlchemyPersistence) -> list[InstanceChange]:
    makers = BAD_EVERYWHERE + (BAD_ON_POSTGRESQL if sql.dialect == "postgresql" else [])
    return [make() for make in makers for _ in range(2)]


async def test_refused_changes_fail_alone_among_many_concurrent_commits(sql: SQLAlchemyPersistence) -> None:
    good = [starting({"number": number}) for number in range(120)]
    bad = bad_changes(sql)
    spacing = len(good) // len(bad)
    mixed: list[tuple[bool, InstanceChange]] = [(True, change) for change in good]
    for index, change in enumerate(bad):
        mixed.insert(index * (spacing + 1) + 1, (False, change))
    outcomes = await asyncio.gather(*(sql.commit(change) for _, change in mixed), return_exceptions=True)

    for (is_good, change), outcome in zip(mixed, outcomes, strict=True):
        if is_good:
            assert outcome is False, outcome  # committed (no lease asked for)
        else:
            assert isinstance(outcome, ChangeRefusedError), outcome
            assert str(change.instance.id) in str(outcome)
    for change in good:
        stored = await sql.load_instance(change.instance.id)
        assert stored is not None and stored.data == change.instance.data
        assert len(await sql.list_tasks(instance_id=change.instance.id)) == 1
    for change in bad:
        assert await sql.load_instance(change.instance.id) is None


async def test_a_refused_change_committed_alone_leaves_the_next_commit_working(sql: SQLAlchemyPersistence) -> None:
    for change in bad_changes(sql):
        with pytest.raises(ChangeRefusedError):
            await sql.commit(change)
        after = starting()
        assert await sql.commit(after) is False
        assert await sql.load_instance(after.instance.id) is not None
        assert await sql.load_instance(change.instance.id) is None


# --- the engine: a step whose result is refused fails its attempt, not forever -----------------


async def _refuse_succeeded_runs_of(sql: SQLAlchemyPersistence, step_name: str) -> None:
    """A constraint the engine knows nothing about: the database refuses any recorded success of ``step_name``."""
    await sql.load_instance(uuid4())  # creates the tables
    async with sql.engine.begin() as connection:
        if sql.dialect == "postgresql":
            await connection.execute(
                text(
                    "ALTER TABLE workflow_step_execution ADD CONSTRAINT refuse_poisoned "
                    f"CHECK (NOT (step_name = '{step_name}' AND status = 'succeeded'))"
                )
            )
        else:
            await connection.execute(
                text(
                    "CREATE TRIGGER refuse_poisoned BEFORE INSERT ON workflow_step_execution "
                    f"WHEN NEW.step_name = '{step_name}' AND NEW.status = 'succeeded' "
                    "BEGIN SELECT RAISE(ABORT, 'poisoned results are refused'); END"
                )
            )


async def test_a_step_whose_result_is_refused_fails_its_attempts_and_the_instance(sql: SQLAlchemyPersistence) -> None:
    await _refuse_succeeded_runs_of(sql, "poisoned")
    poisoned = SetStep("poisoned", "value", 1)
    poisoned.max_retries = 1
    engine = LocalExecutionEngine(WorkflowRegistry(), sql)
    try:
        started = await engine.start_workflow(chain("poison", [SetStep("first", "a", 1), poisoned, SetStep("never")]))
        fine = chain("fine", [SetStep("one", "b", 2)])
        others = [await engine.start_workflow(fine) for _ in range(5)]
        done = await engine.wait_for(started.id, timeout=10)
        assert done.status is WorkflowStatus.FAILED
        runs = [(e.step_name, e.status, e.attempt) for e in done.context.step_history]
        assert runs == [
            ("first", StepStatus.SUCCEEDED, 1),
            ("poisoned", StepStatus.FAILED, 1),
            ("poisoned", StepStatus.FAILED, 2),
        ]
        assert done.error is not None and "its result could not be stored" in done.error
        assert done.data == {"a": 1}
        for other in others:
            assert (await engine.wait_for(other.id, timeout=10)).status is WorkflowStatus.COMPLETED
    finally:
        await engine.stop(0)


class BookInMissingAccount(TransactionalStep):
    """Writes a row whose deferred foreign key fails only when the step's transaction commits."""

    max_retries = 1

    async def execute(self, context: WorkflowContext) -> str:
        await context.session.execute(
            text("INSERT INTO bookings (instance_id, account_id) VALUES (:i, 404)"), {"i": str(context.instance_id)}
        )
        return "booked"


async def test_a_transactional_step_refused_at_commit_fails_its_attempts(sql: SQLAlchemyPersistence) -> None:
    await sql.load_instance(uuid4())
    async with sql.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE accounts (id INTEGER PRIMARY KEY)"))
        await connection.execute(
            text(
                "CREATE TABLE bookings (instance_id VARCHAR(64), account_id INTEGER "
                "REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    engine = LocalExecutionEngine(WorkflowRegistry(), sql)
    try:
        started = await engine.start_workflow(chain("booking", [BookInMissingAccount("book"), SetStep("never")]))
        done = await engine.wait_for(started.id, timeout=10)
        assert done.status is WorkflowStatus.FAILED
        assert [(e.step_name, e.status) for e in done.context.step_history] == [
            ("book", StepStatus.FAILED),
            ("book", StepStatus.FAILED),
        ]
        assert done.error is not None and "its result could not be stored" in done.error
        async with sql.engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM bookings"))).scalar_one() == 0
    finally:
        await engine.stop(0)


async def test_a_recovered_step_whose_result_is_refused_fails_too(sql: SQLAlchemyPersistence) -> None:
    """The same for a step resumed by another engine (no cached state: the reloading commit path)."""
    await _refuse_succeeded_runs_of(sql, "poisoned")
    gate = asyncio.Event()

    async def wait_then_set(context: WorkflowContext) -> None:
        await gate.wait()
        context.set("value", 1)

    registry = WorkflowRegistry()
    registry.register_definition(chain("resumed", [FuncStep("poisoned", wait_then_set), SetStep("never")]))
    first = LocalExecutionEngine(registry, sql, owner_id="first")
    started = await first.start_workflow("resumed")
    await first.stop(0)  # the waiting step is cancelled; its token stays committed as READY
    gate.set()
    second = LocalExecutionEngine(registry, sql, owner_id="second")
    try:
        assert await second.start() == 1
        done = await second.wait_for(started.id, timeout=10)
        assert done.status is WorkflowStatus.FAILED
        assert [(e.step_name, e.status) for e in done.context.step_history] == [("poisoned", StepStatus.FAILED)]
        assert done.error is not None and "its result could not be stored" in done.error
    finally:
        await second.stop(0)


class _DriverError(Exception):
    """A driver's error carrying a SQLSTATE, as asyncpg's and psycopg's do."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked")),
        DBAPIError("COMMIT", {}, _DriverError("deadlock detected", "40P01")),
        DBAPIError("SELECT 1", {}, _DriverError("terminating connection", "57P01")),
        DBAPIError("SELECT 1", {}, _DriverError("gone", "XX000"), connection_invalidated=True),
        ConnectionResetError("reset by peer"),
    ],
    ids=["sqlite-locked", "deadlock", "admin-shutdown", "connection-invalidated", "connection-reset"],
)
def test_an_outage_fails_the_group_at_once_without_splitting_it(error: Exception) -> None:
    calls: list[int] = []

    def write(changes: list[InstanceChange]) -> list[Any]:
        calls.append(len(changes))
        raise error

    with pytest.raises(type(error)):
        write_isolated(write, [starting() for _ in range(8)])
    assert calls == [8]


def test_a_group_failing_for_a_change_is_split_until_that_change_is_alone() -> None:
    changes = [starting() for _ in range(8)]
    culprit = changes[5]
    calls: list[int] = []

    def write(group: list[InstanceChange]) -> list[Any]:
        calls.append(len(group))
        if culprit in group:
            raise DBAPIError("INSERT", {}, _DriverError("invalid byte sequence", "22021"))
        return [(False,)] * len(group)

    outcomes = write_isolated(write, changes)
    assert [isinstance(outcome, ChangeRefusedError) for outcome in outcomes] == [i == 5 for i in range(8)]
    assert "invalid byte sequence" in str(outcomes[5]) and "INSERT" not in str(outcomes[5])
    assert calls == [8, 4, 4, 2, 1, 1, 2]  # halves in order: one refused change costs about 2 log2(n) writes
