"""PostgreSQL: an instance created by another process while our batch is written is refused alone.

The batch's locking read cannot lock a row that does not exist yet, so two processes may both
create the instance with one id (an idempotency key). The loser's commit is refused with
``ConcurrentUpdateError``, and only it: with its linked changes, none of which are written; the
rest of the batch commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from litestar_workflows.core.exceptions import ConcurrentUpdateError
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.db.writer import write_changes
from litestar_workflows.engine.persistence import InstanceChange
from tests.conftest import fresh_database
from tests.contract.kit import advanced, create, instance, stored


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL only: SQLite's write transactions are serialised up front, the locking read sees every row."""
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
async def postgres(postgres_url: str) -> AsyncIterator[tuple[SQLAlchemyPersistence, AsyncEngine]]:
    persistence = SQLAlchemyPersistence(url=postgres_url, create_all=True)
    rival = create_async_engine(postgres_url)
    await persistence.ping()  # creates the tables
    yield persistence, rival
    await rival.dispose()
    await persistence.close()


async def _while_a_rival_creates(rival: AsyncEngine, created: InstanceChange, *ours: Any) -> list[Any]:
    """Commit ``ours`` while another transaction holds an uncommitted insert of ``created``, then commits it."""
    async with rival.connect() as connection:
        await connection.begin()
        assert await connection.run_sync(write_changes, [created]) == [(False,)]
        # Our batch blocks on the contested insert until the rival commits.
        pending = asyncio.gather(*ours, return_exceptions=True)
        await asyncio.sleep(0.5)
        await connection.commit()
        return list(await asyncio.wait_for(pending, 10))


async def test_a_concurrently_created_duplicate_is_refused_alone(
    postgres: tuple[SQLAlchemyPersistence, AsyncEngine],
) -> None:
    persistence, rival = postgres
    contested, bystander = instance(data={"who": "us"}), instance()
    theirs = InstanceChange(instance(data={"who": "rival"}, instance_id=contested.id), -1)
    outcomes = await _while_a_rival_creates(
        rival,
        theirs,
        persistence.commit(InstanceChange(contested, -1)),
        persistence.commit(InstanceChange(bystander, -1)),
    )
    assert isinstance(outcomes[0], ConcurrentUpdateError), outcomes
    assert outcomes[1] is False, outcomes
    assert (await stored(persistence, contested.id)).data == {"who": "rival"}
    assert await persistence.load_instance(bystander.id) is not None


async def test_a_linked_creation_found_duplicate_refuses_its_whole_commit(
    postgres: tuple[SQLAlchemyPersistence, AsyncEngine],
) -> None:
    persistence, rival = postgres
    parent = await create(persistence, instance("parent"))
    child, bystander = instance("child", data={"who": "us"}), instance()
    theirs = InstanceChange(instance("child", data={"who": "rival"}, instance_id=child.id), -1)
    group = InstanceChange(advanced(parent, data={"child": "started"}), 0, linked=[InstanceChange(child, -1)])
    outcomes = await _while_a_rival_creates(
        rival, theirs, persistence.commit(group), persistence.commit(InstanceChange(bystander, -1))
    )
    assert isinstance(outcomes[0], ConcurrentUpdateError), outcomes
    assert outcomes[1] is False, outcomes
    assert (await stored(persistence, parent.id)).revision == 0  # the parent's change went with its child's
    assert (await stored(persistence, child.id)).data == {"who": "rival"}
    assert await persistence.load_instance(bystander.id) is not None


async def test_a_transactional_steps_creation_found_duplicate_is_refused(
    postgres: tuple[SQLAlchemyPersistence, AsyncEngine],
) -> None:
    """The same race inside a transactional step's checkpoint: its transaction rolls back, refused."""
    persistence, rival = postgres
    contested = instance(data={"who": "us"})
    theirs = InstanceChange(instance(data={"who": "rival"}, instance_id=contested.id), -1)

    async def in_a_checkpoint() -> bool:
        async with persistence.transaction() as checkpoint:
            return await checkpoint.commit(InstanceChange(contested, -1))

    (outcome,) = await _while_a_rival_creates(rival, theirs, in_a_checkpoint())
    assert isinstance(outcome, ConcurrentUpdateError), outcome
    assert (await stored(persistence, contested.id)).data == {"who": "rival"}
