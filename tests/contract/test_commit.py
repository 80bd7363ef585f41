"""``commit``: the one write. Revision-checked, creating or advancing, all of a change or nothing of it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest

from litestar_workflows import WorkflowPersistence
from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    TaskAlreadyCompletedError,
    TaskClaimedError,
    TaskNotFoundError,
    UnauthorizedTaskError,
    WorkflowInstanceNotFoundError,
)
from litestar_workflows.core.identity import Identity
from litestar_workflows.core.task_checks import TaskActor
from litestar_workflows.core.types import TaskStatus, WorkflowStatus
from litestar_workflows.engine.persistence import InstanceChange, TaskClosure
from tests.contract.kit import NOW, Backend, advanced, completion, create, execution, instance, stored, task


async def test_a_created_instance_is_stored_with_its_tasks_and_history(store: WorkflowPersistence) -> None:
    state = instance(data={"amount": 12}, started_by="alice")
    review = task(state, groups=["managers"])
    change = InstanceChange(state, -1, executions=[execution("submit")], opened_tasks=[review])
    assert await store.commit(change) is False  # no lease asked for
    assert change.lease_held is False

    loaded = await stored(store, state.id)
    assert (loaded.workflow_name, loaded.status, loaded.revision, loaded.started_by) == (
        "orders",
        WorkflowStatus.RUNNING,
        0,
        "alice",
    )
    assert loaded.data == {"amount": 12}
    assert [e.step_name for e in loaded.context.step_history] == ["submit"]
    assert [t.status for t in loaded.tokens] == [loaded.tokens[0].status]
    assert await store.get_task(review.id) == review
    assert change.instance.context.step_history == loaded.context.step_history  # the committed history


async def test_history_grows_in_commit_order(store: WorkflowPersistence) -> None:
    state = await create(store, instance())
    for number in range(1, 4):
        state = advanced(state, data={"n": number})
        await store.commit(InstanceChange(state, number - 1, executions=[execution(f"s{number}")]))
    loaded = await stored(store, state.id)
    assert loaded.revision == 3 and loaded.data == {"n": 3}
    assert [e.step_name for e in loaded.context.step_history] == ["s1", "s2", "s3"]


async def test_a_refused_commit_changes_nothing(store: WorkflowPersistence) -> None:
    state = instance()
    review = task(state)
    await create(store, state, opened_tasks=[review])
    before = await stored(store, state.id)

    with pytest.raises(ConcurrentUpdateError, match="already exists"):
        await store.commit(InstanceChange(instance(instance_id=state.id), -1, opened_tasks=[task(state)]))
    stale = advanced(state, data={"x": 1})
    with pytest.raises(ConcurrentUpdateError, match="revision 0, not 5"):
        await store.commit(InstanceChange(stale, 5, executions=[execution()]))
    with pytest.raises(TaskNotFoundError):
        await store.commit(InstanceChange(stale, 0, closed_tasks=[completion(uuid4())], opened_tasks=[task(state)]))
    with pytest.raises(WorkflowInstanceNotFoundError):
        await store.commit(InstanceChange(instance(), 0))

    after = await stored(store, state.id)
    assert (after.revision, after.data, after.context.step_history) == (0, {}, [])
    assert after == before
    assert await store.list_tasks(instance_id=state.id) == [review]


async def test_a_closure_completes_an_open_task_once(store: WorkflowPersistence) -> None:
    state = instance()
    review = task(state)
    await create(store, state, opened_tasks=[review])
    await store.update_open_task(review.id, claimed_by="bob")
    closing = completion(review.id, by="ann")
    done = advanced(state, status=WorkflowStatus.COMPLETED)
    await store.commit(InstanceChange(done, 0, closed_tasks=[closing]))
    closed = await store.get_task(review.id)
    assert closed is not None
    assert (closed.status, closed.completed_by, closed.claimed_by, closed.data) == (
        TaskStatus.COMPLETED,
        "ann",
        "ann",  # a completion is the completer's claim
        {"ok": True},
    )
    with pytest.raises(TaskAlreadyCompletedError):
        await store.commit(InstanceChange(advanced(done), 1, closed_tasks=[closing]))
    assert (await stored(store, state.id)).revision == 1


async def test_a_cancellation_keeps_the_claim(store: WorkflowPersistence) -> None:
    state = instance()
    review = task(state)
    await create(store, state, opened_tasks=[review])
    await store.update_open_task(review.id, claimed_by="bob")
    await store.commit(InstanceChange(advanced(state), 0, closed_tasks=[TaskClosure(review.id, TaskStatus.CANCELED)]))
    cancelled = await store.get_task(review.id)
    assert cancelled is not None and (cancelled.status, cancelled.claimed_by) == (TaskStatus.CANCELED, "bob")


async def test_a_closure_with_an_actor_is_checked_against_the_task_as_stored(store: WorkflowPersistence) -> None:
    state = instance()
    review = task(state, groups=["managers"])
    await create(store, state, opened_tasks=[review])
    outsider = completion(review.id, by="mallory", actor=TaskActor(Identity("mallory", frozenset({"finance"}))))
    with pytest.raises(UnauthorizedTaskError):
        await store.commit(InstanceChange(advanced(state), 0, closed_tasks=[outsider]))
    await store.update_open_task(review.id, claimed_by="bob")
    other_manager = completion(review.id, by="bobby", actor=TaskActor(Identity("bobby", frozenset({"managers"}))))
    with pytest.raises(TaskClaimedError) as claimed:
        await store.commit(InstanceChange(advanced(state), 0, closed_tasks=[other_manager]))
    assert claimed.value.claimed_by == "bob"
    unchanged = await store.get_task(review.id)
    assert unchanged is not None and (unchanged.status, unchanged.claimed_by) == (TaskStatus.OPEN, "bob")
    assert (await stored(store, state.id)).revision == 0

    holder = completion(review.id, by="bob", actor=TaskActor(Identity("bob", frozenset({"managers"}))))
    await store.commit(InstanceChange(advanced(state), 0, closed_tasks=[holder]))
    assert (await store.get_task(review.id)).status is TaskStatus.COMPLETED  # type: ignore[union-attr]


async def test_one_closure_of_a_task_twice_in_one_change_is_refused(store: WorkflowPersistence) -> None:
    state = instance()
    review = task(state)
    await create(store, state, opened_tasks=[review])
    twice = [completion(review.id, by="ann"), completion(review.id, by="bob")]
    with pytest.raises(TaskAlreadyCompletedError):
        await store.commit(InstanceChange(advanced(state), 0, closed_tasks=twice))
    assert (await store.get_task(review.id)).status is TaskStatus.OPEN  # type: ignore[union-attr]


async def test_a_stale_change_fails_alone_among_concurrent_commits(store: WorkflowPersistence) -> None:
    states = [await create(store, instance(data={"n": n})) for n in range(12)]
    changes = [
        InstanceChange(advanced(state, data={"touched": True}), 7 if index == 5 else 0)
        for index, state in enumerate(states)
    ]
    outcomes = await asyncio.gather(*(store.commit(change) for change in changes), return_exceptions=True)
    assert [isinstance(outcome, ConcurrentUpdateError) for outcome in outcomes] == [i == 5 for i in range(12)]
    touched = [(await stored(store, state.id)).data.get("touched") for state in states]
    assert touched == [None if i == 5 else True for i in range(12)]


async def test_of_two_commits_from_one_revision_exactly_one_wins(backend: Backend, store: WorkflowPersistence) -> None:
    state = await create(store, instance())
    other = backend.another()  # another process, on SQL
    outcomes = await asyncio.gather(
        store.commit(InstanceChange(advanced(state, data={"by": "one"}), 0)),
        other.commit(InstanceChange(advanced(state, data={"by": "two"}), 0)),
        return_exceptions=True,
    )
    refused = [outcome for outcome in outcomes if isinstance(outcome, ConcurrentUpdateError)]
    assert len(refused) == 1, outcomes
    winner = "two" if isinstance(outcomes[0], ConcurrentUpdateError) else "one"
    assert (await stored(store, state.id)).data == {"by": winner}


async def test_a_commit_takes_keeps_and_gives_up_the_lease(backend: Backend, store: WorkflowPersistence) -> None:
    state = instance()
    until = NOW + timedelta(seconds=30)
    change = InstanceChange(state, -1, lease_owner="one", lease_until=until, now=NOW)
    assert await store.commit(change) is True
    assert change.lease_held is True
    assert await backend.lease_of(store, state.id) == ("one", until)

    state = advanced(state)
    held_elsewhere = InstanceChange(state, 0, lease_owner="two", lease_until=until, now=NOW)
    assert await store.commit(held_elsewhere) is False  # written, but the lease stays "one"'s
    assert held_elsewhere.lease_held is False
    assert await backend.lease_of(store, state.id) == ("one", until)

    later = NOW + timedelta(seconds=31)
    state = advanced(state)
    expired = InstanceChange(state, 1, lease_owner="two", lease_until=later + timedelta(seconds=30), now=later)
    assert await store.commit(expired) is True  # "one"'s lease had expired
    assert await backend.lease_of(store, state.id) == ("two", later + timedelta(seconds=30))

    state = advanced(state)
    assert await store.commit(InstanceChange(state, 2, lease_owner="two", now=later)) is False  # released
    assert await backend.lease_of(store, state.id) is None
    assert (await stored(store, state.id)).revision == 3


async def test_a_commit_answered_when_recorded_is_readable_and_then_flushed(
    backend: Backend, store: WorkflowPersistence
) -> None:
    """A persistence may answer before its flush (``flushed`` set) or ignore the request (None); either way
    the change is there when ``commit`` returns, and ``flushed`` ends without error once it is on disk."""
    state = instance(data={"amount": 3})
    change = InstanceChange(state, -1, executions=[execution("submit")], answer_when_recorded=True)
    await store.commit(change)
    reader = backend.another()
    assert (await stored(reader, state.id)).data == {"amount": 3}  # recorded: another connection reads it
    if change.flushed is not None:
        await asyncio.wait_for(change.flushed, timeout=10)
    # Only a file flushed by its writer answers before the flush.
    assert (change.flushed is not None) is (backend.kind == "sqlite")
