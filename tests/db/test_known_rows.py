"""A commit decided on the row as this process last left it, without reading it (``db.known``).

PostgreSQL writes a commit alone as one statement (``db.alone``); SQLite writes a batch whose
rows it knows without its read (``db.writer``). When another process changed the row since (a
commit, a lease taken), nothing is written on the row as known, and the commit is decided on
the row as stored: the same refusal, the same lease answer, nothing half-written, as a commit
that read the row first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from litestar_workflows.core.exceptions import ConcurrentUpdateError
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.engine.persistence import InstanceChange
from tests.conftest import fresh_database
from tests.contract.kit import NOW, Backend, advanced, create, execution, instance, stored, task


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with fresh_database(request.param, tmp_path) as url:
        yield Backend(request.param, url)


@pytest.fixture
async def two(backend: Backend) -> AsyncIterator[tuple[SQLAlchemyPersistence, SQLAlchemyPersistence]]:
    """Two persistence objects on one database, as two processes have."""
    ours, theirs = backend.another(), backend.another()
    assert isinstance(ours, SQLAlchemyPersistence) and isinstance(theirs, SQLAlchemyPersistence)
    yield ours, theirs
    await backend.close()


async def test_a_commit_over_a_row_changed_elsewhere_is_refused_and_writes_nothing(
    two: tuple[SQLAlchemyPersistence, SQLAlchemyPersistence],
) -> None:
    ours, theirs = two
    state = await create(ours, instance())  # we know the row at revision 0
    await theirs.commit(InstanceChange(advanced(state, data={"by": "them"}), 0, executions=[execution("theirs")]))

    late = advanced(state, data={"by": "us"})
    with pytest.raises(ConcurrentUpdateError, match="revision 1, not 0"):
        await ours.commit(InstanceChange(late, 0, executions=[execution("ours")], opened_tasks=[task(state)]))
    after = await stored(ours, state.id)
    assert (after.revision, after.data) == (1, {"by": "them"})
    assert [e.step_name for e in after.context.step_history] == ["theirs"]
    assert await ours.list_tasks(instance_id=state.id) == []

    # The refusal told us the row as stored: the next commit, from revision 1, is written.
    await ours.commit(InstanceChange(advanced(after, data={"by": "us"}), 1, executions=[execution("ours")]))
    final = await stored(theirs, state.id)
    assert (final.revision, final.data) == (2, {"by": "us"})
    assert [e.step_name for e in final.context.step_history] == ["theirs", "ours"]


async def test_a_lease_taken_elsewhere_since_our_last_commit_stays_taken(
    backend: Backend, two: tuple[SQLAlchemyPersistence, SQLAlchemyPersistence]
) -> None:
    ours, theirs = two
    state = instance()
    until = NOW + timedelta(seconds=30)
    assert await ours.commit(InstanceChange(state, -1, lease_owner="one", lease_until=until, now=NOW)) is True
    later = NOW + timedelta(seconds=31)  # our lease expired: another engine takes it
    assert await theirs.acquire_lease(state.id, "two", later, later + timedelta(seconds=30)) is True

    change = InstanceChange(advanced(state), 0, lease_owner="one", lease_until=later + timedelta(seconds=5), now=later)
    assert await ours.commit(change) is False  # written, but the lease is the other engine's
    assert await backend.lease_of(ours, state.id) == ("two", later + timedelta(seconds=30))
    assert (await stored(theirs, state.id)).revision == 1


async def test_several_executions_and_tasks_of_one_commit_keep_their_order(
    two: tuple[SQLAlchemyPersistence, SQLAlchemyPersistence],
) -> None:
    ours, theirs = two
    state = instance()
    first = [task(state, step=f"first{number}") for number in range(3)]
    await create(ours, state, executions=[execution("a"), execution("b")], opened_tasks=first)
    steps = [execution(name) for name in ("c", "d", "e", "f")]
    more = [task(state, step=f"then{number}") for number in range(2)]
    await ours.commit(InstanceChange(advanced(state), 0, executions=steps, opened_tasks=more))

    loaded = await stored(theirs, state.id)
    assert [e.step_name for e in loaded.context.step_history] == ["a", "b", "c", "d", "e", "f"]
    assert {t.id for t in await theirs.list_tasks(instance_id=state.id)} == {t.id for t in first + more}
