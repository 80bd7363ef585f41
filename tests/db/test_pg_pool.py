"""PostgreSQL: the persistence's own engine keeps enough connections open for a server's concurrent requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from advanced_alchemy.config import EngineConfig, SQLAlchemyAsyncConfig
from sqlalchemy import event

from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.engine.persistence import InstanceChange
from tests.conftest import fresh_database
from tests.contract.kit import advanced, create, execution, instance


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


async def test_sixteen_concurrent_reads_reuse_the_pools_connections(postgres_url: str) -> None:
    persistence = SQLAlchemyPersistence(url=postgres_url, create_all=True)
    opened: list[Any] = []
    event.listen(persistence.engine.sync_engine, "connect", lambda connection, _record: opened.append(connection))
    stored = await create(persistence, instance())

    async def sixteen_reads() -> None:
        found = await asyncio.gather(*(persistence.load_instance(stored.id) for _ in range(16)))
        assert {state.id for state in found if state is not None} == {stored.id}

    await sixteen_reads()
    first_round = len(opened)
    for _ in range(3):
        await sixteen_reads()
    # The default pool (5 kept, 10 more for a moment) closed a third of them after every round.
    assert len(opened) == first_round
    await persistence.close()


def test_the_pool_size_is_a_setting_and_sqlite_has_none(tmp_path: Path) -> None:
    sized = SQLAlchemyPersistence(url="postgresql+asyncpg://nobody@127.0.0.1:1/none", pool_size=7)
    assert sized.engine.pool.size() == 7  # type: ignore[attr-defined]  # a QueuePool; no connection is made
    on_a_file = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite3'}", pool_size=7)
    assert on_a_file.dialect == "sqlite"  # built without pool options (a file gets threads of its own)


async def test_a_host_pool_of_one_connection_serves_commits_and_reads_in_turn(postgres_url: str) -> None:
    """Commits alone keep a connection of their own, except when the host's pool has only one to lend."""
    host = SQLAlchemyAsyncConfig(
        connection_string=postgres_url,
        engine_config=EngineConfig(pool_size=1, max_overflow=0, pool_timeout=3),
    )
    persistence = SQLAlchemyPersistence(host, create_all=True)
    try:
        state = await create(persistence, instance())
        for revision in range(3):
            state = advanced(state)
            await persistence.commit(InstanceChange(state, revision, executions=[execution()]))
            loaded = await persistence.load_instance(state.id)  # the one connection is back in the pool
            assert loaded is not None and loaded.revision == revision + 1
    finally:
        await persistence.close()
        await host.get_engine().dispose()
