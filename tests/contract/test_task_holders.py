"""``update_open_task``: claims, releases and reassignments as conditional updates of the task as stored.

``update_open_task(..., if_claimable_by=user)`` applies only while the task is open and unclaimed
(or already the user's), so users claiming one task at the same moment get exactly one winner;
the others get ``TaskClaimedError`` naming the winner.
"""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest

from litestar_workflows import (
    HumanTaskData,
    TaskAlreadyCompletedError,
    TaskClaimedError,
    TaskNotFoundError,
    TaskStatus,
    UnauthorizedTaskError,
    WorkflowPersistence,
    WorkflowsError,
)
from litestar_workflows.core.identity import Identity
from litestar_workflows.core.task_checks import TaskActor
from litestar_workflows.engine.persistence import InstanceChange, TaskQuery
from tests.contract.kit import Backend, advanced, completion, create, instance, task

USERS = [f"user{number:02d}" for number in range(20)]


async def _open_task(
    store: WorkflowPersistence, assignee: str | None = None, groups: list[str] | None = None
) -> HumanTaskData:
    owner = instance("claims")
    opened = task(owner, assignee=assignee, groups=groups)
    await create(store, owner, opened_tasks=[opened])
    return opened


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


async def test_twenty_concurrent_claims_have_one_winner(backend: Backend, store: WorkflowPersistence) -> None:
    opened = await _open_task(store)
    stores = [store, backend.another()]  # on SQL, a second one is like another process (its own connections)
    claims = [
        stores[number % 2].update_open_task(opened.id, claimed_by=user, if_claimable_by=user)
        for number, user in enumerate(USERS)
    ]
    winner = _one_winner(list(await asyncio.gather(*claims, return_exceptions=True)))
    stored = await stores[1].get_task(opened.id)
    assert stored is not None and stored.claimed_by == winner and stored.status is TaskStatus.OPEN


async def test_claims_releases_and_takeovers(store: WorkflowPersistence) -> None:
    opened = await _open_task(store)
    claimed = await store.update_open_task(opened.id, claimed_by="bob", if_claimable_by="bob")
    assert claimed.claimed_by == "bob"
    again = await store.update_open_task(opened.id, claimed_by="bob", if_claimable_by="bob")
    assert again.claimed_by == "bob"  # claiming what one holds is a no-op, not an error

    with pytest.raises(TaskClaimedError) as taken:
        await store.update_open_task(opened.id, claimed_by="carol", if_claimable_by="carol")
    assert taken.value.claimed_by == "bob"
    assert isinstance(taken.value, WorkflowsError)
    with pytest.raises(TaskClaimedError):  # carol may not release bob's claim either
        await store.update_open_task(opened.id, claimed_by=None, if_claimable_by="carol")
    stored = await store.get_task(opened.id)
    assert stored is not None and stored.claimed_by == "bob"

    released = await store.update_open_task(opened.id, claimed_by=None, if_claimable_by="bob")
    assert released.claimed_by is None
    carol = await store.update_open_task(opened.id, claimed_by="carol", if_claimable_by="carol")
    assert carol.claimed_by == "carol"
    admin = await store.update_open_task(opened.id, claimed_by="root")  # unconditional: a take-over
    assert admin.claimed_by == "root"
    reassigned = await store.update_open_task(opened.id, assignee="dave", claimed_by=None)
    assert (reassigned.assignee, reassigned.claimed_by) == ("dave", None)
    assert await store.get_task(opened.id) == reassigned

    owner = await store.load_instance(opened.instance_id)
    assert owner is not None
    await store.commit(InstanceChange(advanced(owner), 0, closed_tasks=[completion(opened.id, by="dave")]))
    with pytest.raises(TaskAlreadyCompletedError):
        await store.update_open_task(opened.id, claimed_by="bob", if_claimable_by="bob")
    with pytest.raises(TaskNotFoundError):
        await store.update_open_task(uuid4(), claimed_by="bob", if_claimable_by="bob")


async def test_an_actor_must_be_allowed_to_act_on_the_task(store: WorkflowPersistence) -> None:
    opened = await _open_task(store, groups=["managers"])
    mallory = TaskActor(Identity("mallory", frozenset({"finance"})))
    with pytest.raises(UnauthorizedTaskError):
        await store.update_open_task(opened.id, claimed_by="mallory", actor=mallory)
    bob = TaskActor(Identity("bob", frozenset({"managers"})))
    assert (await store.update_open_task(opened.id, claimed_by="bob", actor=bob)).claimed_by == "bob"
    bobby = TaskActor(Identity("bobby", frozenset({"managers"})))
    with pytest.raises(TaskClaimedError):
        await store.update_open_task(opened.id, claimed_by=None, actor=bobby)
    root = TaskActor(Identity("root", frozenset({"admin"})), admin_role="admin")
    assert (await store.update_open_task(opened.id, claimed_by="root", actor=root)).claimed_by == "root"


async def test_assigned_or_claimed_lists_what_a_user_holds(store: WorkflowPersistence) -> None:
    offered = await _open_task(store)
    assigned = await _open_task(store, assignee="bob")
    await _open_task(store, assignee="carol")

    async def held_by(user: str) -> set[UUID]:
        tasks, total = await store.query_tasks(TaskQuery(assigned_or_claimed_by=user))
        assert total == len(tasks)
        return {held.id for held in tasks}

    assert await held_by("bob") == {assigned.id}
    await store.update_open_task(offered.id, claimed_by="bob", if_claimable_by="bob")
    assert await held_by("bob") == {offered.id, assigned.id}
    assert offered.id not in await held_by("carol")
    await store.update_open_task(offered.id, claimed_by=None, if_claimable_by="bob")
    assert await held_by("bob") == {assigned.id}
