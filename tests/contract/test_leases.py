"""Leases: which engine advances an instance. Taken when free, expired or one's own; renewed; released; claimed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

from litestar_workflows import WorkflowPersistence
from litestar_workflows.core.types import WorkflowStatus
from litestar_workflows.engine.persistence import InstanceChange
from tests.contract.kit import NOW, Backend, create, finished, instance

SOON = NOW + timedelta(seconds=30)
LATER = NOW + timedelta(seconds=31)


async def test_acquire_takes_a_free_expired_or_own_lease(backend: Backend, store: WorkflowPersistence) -> None:
    state = await create(store, instance())
    assert await store.acquire_lease(state.id, "one", NOW, SOON) is True
    assert await store.acquire_lease(state.id, "two", NOW, SOON) is False  # held by "one" until SOON
    assert await backend.lease_of(store, state.id) == ("one", SOON)
    assert await store.acquire_lease(state.id, "one", NOW, LATER) is True  # one's own: extended
    assert await backend.lease_of(store, state.id) == ("one", LATER)
    after = LATER + timedelta(seconds=1)
    assert await store.acquire_lease(state.id, "two", after, after + timedelta(seconds=30)) is True  # expired
    assert await backend.lease_of(store, state.id) == ("two", after + timedelta(seconds=30))
    assert await store.acquire_lease(uuid4(), "one", NOW, SOON) is False  # no such instance


async def test_renew_extends_only_the_owners_leases(backend: Backend, store: WorkflowPersistence) -> None:
    mine, theirs = await create(store, instance()), await create(store, instance())
    await store.acquire_lease(mine.id, "me", NOW, SOON)
    await store.acquire_lease(theirs.id, "them", NOW, SOON)
    await store.renew_leases("me", [mine.id, theirs.id], LATER)
    assert await backend.lease_of(store, mine.id) == ("me", LATER)
    assert await backend.lease_of(store, theirs.id) == ("them", SOON)
    await store.renew_leases("me", [], LATER + timedelta(hours=1))  # nothing to renew
    assert await backend.lease_of(store, mine.id) == ("me", LATER)


async def test_release_gives_up_the_owners_leases(backend: Backend, store: WorkflowPersistence) -> None:
    states = [await create(store, instance()) for _ in range(3)]
    for state in states[:2]:
        await store.acquire_lease(state.id, "me", NOW, SOON)
    await store.acquire_lease(states[2].id, "them", NOW, SOON)
    await store.release_leases("me", [])
    assert await backend.lease_of(store, states[0].id) == ("me", SOON)
    await store.release_leases("me", [states[0].id, states[2].id])
    assert [await backend.lease_of(store, state.id) for state in states] == [None, ("me", SOON), ("them", SOON)]
    await store.release_leases("me")
    assert [await backend.lease_of(store, state.id) for state in states] == [None, None, ("them", SOON)]


async def test_claim_runnable_leases_due_running_instances_earliest_first(
    backend: Backend, store: WorkflowPersistence
) -> None:
    due_late = await create(store, instance(due=NOW - timedelta(seconds=1)))
    due_early = await create(store, instance(due=NOW - timedelta(minutes=5)))
    due_now = await create(store, instance())
    await create(store, instance(due=NOW + timedelta(hours=1)))  # a timer not yet due
    await create(store, instance(status=WorkflowStatus.WAITING))  # waits for a person
    done = await create(store, instance())
    await store.commit(InstanceChange(finished(done), 0))
    held = await create(store, instance())
    await store.acquire_lease(held.id, "other", NOW, SOON)

    assert set(await store.claim_runnable("me", NOW, SOON, 2)) == {due_early.id, due_late.id}  # the two due first
    assert set(await store.claim_runnable("me", NOW, SOON, 10)) == {due_early.id, due_late.id, due_now.id}  # own too
    assert await backend.lease_of(store, due_now.id) == ("me", SOON)
    assert await store.claim_runnable("third", NOW, SOON, 10) == []  # all held
    assert held.id in await store.claim_runnable("third", LATER, LATER + timedelta(seconds=30), 10)  # expired


async def test_concurrent_claimers_never_share_an_instance(backend: Backend, store: WorkflowPersistence) -> None:
    due = {(await create(store, instance())).id for _ in range(30)}
    claimers = [store, *(backend.another() for _ in range(3))]
    claimed = await asyncio.gather(
        *(claimer.claim_runnable(f"engine{number}", NOW, SOON, 10) for number, claimer in enumerate(claimers))
    )
    every = [instance_id for batch in claimed for instance_id in batch]
    assert len(every) == len(set(every)), claimed  # nobody got an instance another one got
    assert set(every) <= due
    left = await store.claim_runnable("sweeper", NOW, SOON, 100)
    assert set(left) == due - set(every)  # the rest was free; the claimed ones are held
    for number, batch in enumerate(claimed):
        for instance_id in batch:
            assert await backend.lease_of(store, instance_id) == (f"engine{number}", SOON)
