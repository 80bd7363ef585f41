"""Task claims as compare-and-set updates, on SQLite, PostgreSQL and in memory.

``update_open_task(..., if_claimable_by=user)`` applies only while the task is open and unclaimed
(or already the user's), so users claiming one task at the same moment get exactly one winner;
the others get ``TaskClaimedError`` naming the winner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest

from litestar_workflows import (
    BaseHumanStep,
    HumanTaskData,
    InMemoryPersistence,
    LocalExecutionEngine,
    TaskAlreadyCompletedError,
    TaskClaimedError,
    TaskNotFoundError,
    TaskStatus,
    WorkflowPersistence,
    WorkflowRegistry,
    WorkflowsError,
)
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.engine.persistence import TaskQuery
from tests.helpers import SetStep, chain

USERS = [f"user{number:02d}" for number in range(20)]


async def _open_task(engine: LocalExecutionEngine, assignee: str | None = None) -> HumanTaskData:
    """Start a one-task workflow and return its open task."""
    review = BaseHumanStep("review", assignee_key="owner")  # no "owner" in the data: offered to anyone
    definition = chain("claims", [review, SetStep("done")])
    if not engine.registry.has_workflow(definition.name, definition.version):
        engine.registry.register_definition(definition)
    instance = await engine.start_workflow("claims", {"owner": assignee} if assignee else {})
    tasks = await engine.persistence.list_tasks(instance_id=instance.id, status=TaskStatus.OPEN)
    assert len(tasks) == 1
    return tasks[0]


@pytest.fixture
async def sql(database_url: str) -> AsyncIterator[SQLAlchemyPersistence]:
    persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
    yield persistence
    await persistence.close()


async def _claim_race(persistences: list[WorkflowPersistence], task_id: UUID) -> list[HumanTaskData | BaseException]:
    """Every user claims the task at once, spread over the given persistences."""
    claims = [
        persistences[number % len(persistences)].update_open_task(task_id, claimed_by=user, if_claimable_by=user)
        for number, user in enumerate(USERS)
    ]
    return await asyncio.gather(*claims, return_exceptions=True)


def _one_winner(outcomes: list[HumanTaskData | BaseException]) -> str:
    """Exactly one claim succeeded; every other one names the winner. Returns the winner."""
    won = [outcome for outcome in outcomes if isinstance(outcome, HumanTaskData)]
    lost = [outcome for outcome in outcomes if isinstance(outcome, TaskClaimedError)]
    assert len(won) == 1, outcomes
    assert len(lost) == len(USERS) - 1, [outcome for outcome in outcomes if not isinstance(outcome, HumanTaskData)]
    winner = won[0].claimed_by
    assert winner in USERS
    assert {error.claimed_by for error in lost} == {winner}
    assert all(f"claimed by {winner!r}" in str(error) for error in lost)
    return winner


async def test_twenty_concurrent_claims_on_sql_have_one_winner(database_url: str, sql: SQLAlchemyPersistence) -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), sql)
    task = await _open_task(engine)
    # A second persistence object on the same database: its own connection pool, like another process.
    other = SQLAlchemyPersistence(url=database_url)
    try:
        winner = _one_winner(await _claim_race([sql, other], task.id))
        stored = await other.get_task(task.id)
        assert stored is not None and stored.claimed_by == winner and stored.status is TaskStatus.OPEN
    finally:
        await other.close()
        await engine.stop(0)


async def test_twenty_concurrent_claims_in_memory_have_one_winner() -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence())
    task = await _open_task(engine)
    winner = _one_winner(await _claim_race([engine.persistence], task.id))
    stored = await engine.persistence.get_task(task.id)
    assert stored is not None and stored.claimed_by == winner
    await engine.stop(0)


async def _check_claim_semantics(engine: LocalExecutionEngine) -> None:
    persistence = engine.persistence
    task = await _open_task(engine)
    claimed = await persistence.update_open_task(task.id, claimed_by="bob", if_claimable_by="bob")
    assert claimed.claimed_by == "bob"
    again = await persistence.update_open_task(task.id, claimed_by="bob", if_claimable_by="bob")
    assert again.claimed_by == "bob"  # claiming what one holds is a no-op, not an error

    with pytest.raises(TaskClaimedError) as taken:
        await persistence.update_open_task(task.id, claimed_by="carol", if_claimable_by="carol")
    assert taken.value.claimed_by == "bob"
    assert isinstance(taken.value, WorkflowsError)
    with pytest.raises(TaskClaimedError):  # carol may not release bob's claim either
        await persistence.update_open_task(task.id, claimed_by=None, if_claimable_by="carol")
    stored = await persistence.get_task(task.id)
    assert stored is not None and stored.claimed_by == "bob"

    released = await persistence.update_open_task(task.id, claimed_by=None, if_claimable_by="bob")
    assert released.claimed_by is None
    carol = await persistence.update_open_task(task.id, claimed_by="carol", if_claimable_by="carol")
    assert carol.claimed_by == "carol"
    admin = await persistence.update_open_task(task.id, claimed_by="root")  # unconditional: a take-over
    assert admin.claimed_by == "root"

    await engine.complete_task(task.id, "root", {})
    with pytest.raises(TaskAlreadyCompletedError):
        await persistence.update_open_task(task.id, claimed_by="bob", if_claimable_by="bob")
    with pytest.raises(TaskNotFoundError):
        await persistence.update_open_task(uuid4(), claimed_by="bob", if_claimable_by="bob")


async def test_claim_semantics_on_sql(sql: SQLAlchemyPersistence) -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), sql)
    await _check_claim_semantics(engine)
    await engine.stop(0)


async def test_claim_semantics_in_memory() -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence())
    await _check_claim_semantics(engine)
    await engine.stop(0)


async def _check_assigned_or_claimed(engine: LocalExecutionEngine) -> None:
    persistence = engine.persistence
    offered = await _open_task(engine)
    assigned = await _open_task(engine, assignee="bob")
    await _open_task(engine, assignee="carol")

    async def held_by(user: str) -> set[UUID]:
        tasks, total = await persistence.query_tasks(TaskQuery(assigned_or_claimed_by=user))
        assert total == len(tasks)
        return {task.id for task in tasks}

    assert await held_by("bob") == {assigned.id}
    await persistence.update_open_task(offered.id, claimed_by="bob", if_claimable_by="bob")
    assert await held_by("bob") == {offered.id, assigned.id}
    assert offered.id not in await held_by("carol")
    await persistence.update_open_task(offered.id, claimed_by=None, if_claimable_by="bob")
    assert await held_by("bob") == {assigned.id}


async def test_assigned_or_claimed_filter_on_sql(sql: SQLAlchemyPersistence) -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), sql)
    await _check_assigned_or_claimed(engine)
    await engine.stop(0)


async def test_assigned_or_claimed_filter_in_memory() -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence())
    await _check_assigned_or_claimed(engine)
    await engine.stop(0)
