"""Linked changes: several instances changed by one commit, all or nothing.

What a sub-workflow step needs: a parent's change creating its child, a child's last change
resuming its parent, a cancel reaching children. If any member of a commit is refused, none is
written and the commit raises that member's refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from litestar_workflows import WorkflowPersistence
from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    TaskAlreadyCompletedError,
    TaskNotFoundError,
    WorkflowInstanceNotFoundError,
)
from litestar_workflows.core.models import WorkflowInstanceData
from litestar_workflows.core.types import TaskStatus, WorkflowStatus
from litestar_workflows.engine.persistence import InstanceChange
from tests.contract.kit import (
    NOW,
    Backend,
    advanced,
    completion,
    create,
    execution,
    finished,
    instance,
    stored,
    task,
)

UNTIL = NOW + timedelta(seconds=30)


async def test_a_parent_creates_its_child_in_its_own_commit(backend: Backend, store: WorkflowPersistence) -> None:
    parent = instance("parent")
    review = task(parent)
    await create(store, parent, opened_tasks=[review])
    child = instance("child", data={"from": "parent"})
    child_task = task(child, step="check")
    child_change = InstanceChange(
        child, -1, opened_tasks=[child_task], lease_owner="engine", lease_until=UNTIL, now=NOW
    )
    waiting = advanced(parent, status=WorkflowStatus.WAITING, data={"child": str(child.id)})
    change = InstanceChange(
        waiting,
        0,
        executions=[execution("start_child")],
        closed_tasks=[completion(review.id)],
        lease_owner="engine",
        lease_until=UNTIL,
        now=NOW,
        linked=[child_change],
    )
    assert await store.commit(change) is True
    assert (change.lease_held, child_change.lease_held) == (True, True)

    loaded_parent, loaded_child = await stored(store, parent.id), await stored(store, child.id)
    assert (loaded_parent.revision, loaded_parent.status, loaded_parent.data) == (
        1,
        WorkflowStatus.WAITING,
        {"child": str(child.id)},
    )
    assert [e.step_name for e in loaded_parent.context.step_history] == ["start_child"]
    assert (loaded_child.revision, loaded_child.data) == (0, {"from": "parent"})
    assert (await store.get_task(review.id)).status is TaskStatus.COMPLETED  # type: ignore[union-attr]
    assert await store.get_task(child_task.id) == child_task
    assert await backend.lease_of(store, child.id) == ("engine", UNTIL)
    assert change.instance.context.step_history == loaded_parent.context.step_history


async def test_a_childs_last_change_resumes_its_parent(store: WorkflowPersistence) -> None:
    parent = await create(store, instance("parent", status=WorkflowStatus.WAITING))
    child = await create(store, instance("child"))
    resumed = advanced(parent, status=WorkflowStatus.RUNNING, data={"child_result": 42})
    parent_change = InstanceChange(resumed, 0, lease_owner="engine", lease_until=UNTIL, now=NOW)
    change = InstanceChange(finished(child), 0, executions=[execution("last")], linked=[parent_change])
    assert await store.commit(change) is False  # the child's committer asked for no lease
    assert parent_change.lease_held is True
    assert (await stored(store, child.id)).status is WorkflowStatus.COMPLETED
    assert (await stored(store, parent.id)).data == {"child_result": 42}


Maker = Callable[[WorkflowInstanceData, WorkflowInstanceData, WorkflowInstanceData, UUID], InstanceChange]
"""Builds a commit of (the parent as stored, a new child, an existing instance, the parent's completed task)."""


def _stale_parent(parent: WorkflowInstanceData, child: WorkflowInstanceData, _: object, __: UUID) -> InstanceChange:
    return InstanceChange(advanced(parent), parent.revision + 5, linked=[InstanceChange(child, -1)])


def _existing_child(
    parent: WorkflowInstanceData, _: object, existing: WorkflowInstanceData, __: UUID
) -> InstanceChange:
    duplicate = instance("child", instance_id=existing.id)
    return InstanceChange(advanced(parent), parent.revision, linked=[InstanceChange(duplicate, -1)])


def _missing_member(parent: WorkflowInstanceData, child: WorkflowInstanceData, _: object, __: UUID) -> InstanceChange:
    ghost = InstanceChange(advanced(instance("ghost")), 0)
    return InstanceChange(advanced(parent), parent.revision, linked=[InstanceChange(child, -1), ghost])


def _closed_task(parent: WorkflowInstanceData, child: WorkflowInstanceData, _: object, done: UUID) -> InstanceChange:
    closing = InstanceChange(child, -1, closed_tasks=[completion(done, by="late")])
    return InstanceChange(advanced(parent), parent.revision, linked=[closing])


def _unknown_task(parent: WorkflowInstanceData, child: WorkflowInstanceData, _: object, __: UUID) -> InstanceChange:
    closing = InstanceChange(child, -1, closed_tasks=[completion(uuid4())])
    return InstanceChange(advanced(parent), parent.revision, linked=[closing])


def _grandchild(parent: WorkflowInstanceData, child: WorkflowInstanceData, _: object, __: UUID) -> InstanceChange:
    missing = InstanceChange(advanced(instance("grandchild")), 0)
    return InstanceChange(advanced(parent), parent.revision, linked=[InstanceChange(child, -1, linked=[missing])])


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (_stale_parent, ConcurrentUpdateError),
        (_existing_child, ConcurrentUpdateError),
        (_missing_member, WorkflowInstanceNotFoundError),
        (_closed_task, TaskAlreadyCompletedError),
        (_unknown_task, TaskNotFoundError),
        (_grandchild, WorkflowInstanceNotFoundError),
    ],
    ids=["stale-parent", "child-exists", "member-missing", "task-closed", "task-unknown", "grandchild-missing"],
)
async def test_one_refused_member_refuses_the_whole_commit(
    store: WorkflowPersistence, make: Maker, error: type[Exception]
) -> None:
    parent = instance("parent")
    review = task(parent)
    await create(store, parent, opened_tasks=[review])
    existing = await create(store, instance("existing"))
    await store.commit(InstanceChange(advanced(parent), 0, closed_tasks=[completion(review.id)]))
    current = await stored(store, parent.id)
    child = instance("child", data={"x": 1})
    change = make(current, child, existing, review.id)

    with pytest.raises(error):
        await store.commit(change)
    assert await stored(store, parent.id) == current  # the parent's own change was not written
    assert await store.load_instance(child.id) is None
    assert (await stored(store, existing.id)).workflow_name == "existing"
    assert not any(member.lease_held for member in change.members())


async def test_members_must_concern_distinct_instances(store: WorkflowPersistence) -> None:
    parent = await create(store, instance("parent"))
    again = InstanceChange(advanced(parent), 0, linked=[InstanceChange(advanced(parent, data={"x": 1}), 0)])
    with pytest.raises(ValueError, match="distinct instances"):
        await store.commit(again)
    cycle = InstanceChange(advanced(parent), 0)
    cycle.linked.append(cycle)
    with pytest.raises(ValueError, match="distinct instances"):
        await store.commit(cycle)
    assert (await stored(store, parent.id)).revision == 0


async def test_a_concurrent_change_of_a_member_refuses_the_whole_commit(
    backend: Backend, store: WorkflowPersistence
) -> None:
    """A parent creating a child races another writer changing the parent: one wins, never half of the group."""
    other = backend.another()  # another process, on SQL
    for _ in range(5):
        parent = await create(store, instance("parent"))
        child = instance("child")
        group = InstanceChange(advanced(parent, data={"by": "group"}), 0, linked=[InstanceChange(child, -1)])
        rival = InstanceChange(advanced(parent, data={"by": "rival"}), 0)
        outcomes = await asyncio.gather(store.commit(group), other.commit(rival), return_exceptions=True)
        assert sum(isinstance(outcome, ConcurrentUpdateError) for outcome in outcomes) == 1, outcomes
        group_won = not isinstance(outcomes[0], Exception)
        assert (await stored(store, parent.id)).data == {"by": "group" if group_won else "rival"}
        assert (await store.load_instance(child.id) is not None) is group_won


async def test_groups_fail_alone_among_concurrent_commits(store: WorkflowPersistence) -> None:
    parents = [await create(store, instance("parent", data={"n": n})) for n in range(10)]
    children = [instance("child", data={"n": n}) for n in range(10)]
    changes = [
        InstanceChange(
            advanced(parent, data={"linked": True}), 9 if n in {3, 7} else 0, linked=[InstanceChange(child, -1)]
        )
        for n, (parent, child) in enumerate(zip(parents, children, strict=True))
    ]
    outcomes = await asyncio.gather(*(store.commit(change) for change in changes), return_exceptions=True)
    refused = {n for n, outcome in enumerate(outcomes) if isinstance(outcome, ConcurrentUpdateError)}
    assert refused == {3, 7}, outcomes
    for n, (parent, child) in enumerate(zip(parents, children, strict=True)):
        written = n not in refused
        assert ((await stored(store, parent.id)).data.get("linked") is True) is written
        assert (await store.load_instance(child.id) is not None) is written
