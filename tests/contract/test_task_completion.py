"""``engine.complete_task(task_id, Identity(...), data)``: who may complete is decided in the commit.

The checks run against the task as stored, in the transaction that closes it, on every
persistence; a refused completion changes nothing. A plain user id is the operator's
call: recorded, not checked (beyond the task being open).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from litestar_workflows import (
    BaseHumanStep,
    HumanTaskData,
    LocalExecutionEngine,
    TaskAlreadyCompletedError,
    TaskClaimedError,
    TaskStatus,
    UnauthorizedTaskError,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.identity import ANONYMOUS, Identity
from litestar_workflows.core.task_checks import TaskActor
from litestar_workflows.engine.persistence import InstanceChange, WorkflowPersistence
from tests.helpers import SetStep, chain

BOB = Identity("bob", frozenset({"managers"}))
BOBBY = Identity("bobby", frozenset({"managers"}))
MALLORY = Identity("mallory", frozenset({"finance"}))
ROOT = Identity("root", frozenset({"admin"}))


def _engine(persistence: WorkflowPersistence) -> LocalExecutionEngine:
    registry = WorkflowRegistry()
    registry.register_definition(
        chain(
            "review",
            [
                BaseHumanStep("review", candidate_groups=["managers"], accept_any_data=True),
                SetStep("done", "done", True),
            ],
        )
    )
    return LocalExecutionEngine(registry, persistence, admin_role="admin")


@pytest.fixture
async def engine(store: WorkflowPersistence) -> AsyncIterator[LocalExecutionEngine]:
    engine = _engine(store)
    yield engine
    await engine.stop(0)


async def _open_task(engine: LocalExecutionEngine) -> HumanTaskData:
    instance = await engine.start_workflow("review")
    (task,) = await engine.get_tasks(instance.id)
    return task


async def _unchanged(engine: LocalExecutionEngine, task: HumanTaskData, claimed_by: str | None = None) -> None:
    """The refused completion wrote nothing: the task is open, the instance still waits, no step recorded."""
    stored = await engine.persistence.get_task(task.id)
    assert stored is not None
    assert (stored.status, stored.claimed_by, stored.completed_by, stored.data) == (
        TaskStatus.OPEN,
        claimed_by,
        None,
        None,
    )
    instance = await engine.get_instance(task.instance_id)
    assert instance.status is WorkflowStatus.WAITING
    assert [execution.step_name for execution in instance.context.step_history] == []
    assert "decision" not in instance.data


async def test_identities_are_checked_in_the_commit(engine: LocalExecutionEngine) -> None:
    task = await _open_task(engine)
    for outsider in (MALLORY, ANONYMOUS):
        with pytest.raises(UnauthorizedTaskError, match="may not act on task"):
            await engine.complete_task(task.id, outsider, {"decision": "yes"})
    await _unchanged(engine, task)

    await engine.persistence.update_open_task(task.id, claimed_by="bob", actor=TaskActor(BOB))
    with pytest.raises(TaskClaimedError) as claimed:
        await engine.complete_task(task.id, BOBBY, {"decision": "yes"})
    assert claimed.value.claimed_by == "bob"
    await _unchanged(engine, task, claimed_by="bob")

    done = await engine.complete_task_detailed(task.id, ROOT, {"decision": "yes"})  # an admin overrides the claim
    assert (done.task.status, done.task.completed_by, done.task.claimed_by) == (TaskStatus.COMPLETED, "root", "root")
    assert done.task.data == {"decision": "yes"}
    assert done.instance.id == task.instance_id
    assert await engine.persistence.get_task(task.id) == done.task
    with pytest.raises(TaskAlreadyCompletedError):
        await engine.complete_task(task.id, BOB, {})
    assert (await engine.wait_for(task.instance_id, timeout=5)).status is WorkflowStatus.COMPLETED


async def test_an_operator_completes_by_user_id(engine: LocalExecutionEngine) -> None:
    task = await _open_task(engine)
    await engine.persistence.update_open_task(task.id, claimed_by="bob", if_claimable_by="bob")
    instance = await engine.complete_task(task.id, "operator", {"decision": "no"})  # trusted: no rule, no claim
    assert instance.context.user_id == "operator"
    stored = await engine.persistence.get_task(task.id)
    assert stored is not None and (stored.status, stored.completed_by) == (TaskStatus.COMPLETED, "operator")
    with pytest.raises(TaskAlreadyCompletedError):  # but the task must still be open
        await engine.complete_task(task.id, "operator", {})
    other = await _open_task(engine)
    done = await engine.complete_human_task(other.instance_id, "review", "someone", {})
    assert done.id == other.instance_id


def _before_commit(
    monkeypatch: pytest.MonkeyPatch, engine: LocalExecutionEngine, action: Callable[[], Awaitable[Any]]
) -> list[Any]:
    """Run ``action`` once, right before the engine commits a task's closure (after it read the task)."""
    persistence_type = type(engine.persistence)
    original = persistence_type.commit
    done: list[Any] = []

    async def commit(self: Any, change: InstanceChange) -> bool:
        if change.closed_tasks and not done:
            done.append(await action())
        return await original(self, change)

    monkeypatch.setattr(persistence_type, "commit", commit)
    return done


async def test_a_change_landing_before_the_commit_is_seen(
    engine: LocalExecutionEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reassigned = await _open_task(engine)
    persistence = engine.persistence
    _before_commit(monkeypatch, engine, lambda: persistence.update_open_task(reassigned.id, assignee="carol"))
    with pytest.raises(UnauthorizedTaskError, match="'bob' may not act"):
        await engine.complete_task(reassigned.id, BOB, {"decision": "yes"})
    await _unchanged(engine, reassigned)
    monkeypatch.undo()

    claimed = await _open_task(engine)
    _before_commit(
        monkeypatch,
        engine,
        lambda: persistence.update_open_task(claimed.id, claimed_by="bobby", if_claimable_by="bobby"),
    )
    with pytest.raises(TaskClaimedError) as error:
        await engine.complete_task(claimed.id, BOB, {"decision": "yes"})
    assert error.value.claimed_by == "bobby"
    await _unchanged(engine, claimed, claimed_by="bobby")
