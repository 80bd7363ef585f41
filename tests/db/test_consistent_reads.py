"""PostgreSQL: an instance is read as of one commit, even when a commit lands between its row and its history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.util import await_only

from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.engine.persistence import InstanceChange
from tests.conftest import fresh_database
from tests.contract.kit import advanced, create, execution, instance


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
async def persistence(postgres_url: str) -> AsyncIterator[SQLAlchemyPersistence]:
    store = SQLAlchemyPersistence(url=postgres_url, create_all=True)
    yield store
    await store.close()


async def test_a_step_committed_between_the_row_and_its_history_is_not_half_seen(
    persistence: SQLAlchemyPersistence,
) -> None:
    first = await create(persistence, instance(), executions=[execution("one")])
    second = advanced(first)
    interleaved: list[str] = []

    def commit_after_the_row(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Once, right after the first read of the instance's row: the next step's commit lands.
        if not interleaved and statement.lstrip().startswith("SELECT workflow_instance.id"):
            interleaved.append(statement)
            await_only(persistence.commit(InstanceChange(second, first.revision, executions=[execution("two")])))

    event.listen(persistence.engine.sync_engine, "after_cursor_execute", commit_after_the_row)
    loaded = await persistence.load_instance(first.id)
    assert interleaved, "the commit was not interleaved"
    assert loaded is not None
    # The state after the interleaved commit, both parts of it (not its history with the row before it).
    assert (loaded.revision, [e.step_name for e in loaded.context.step_history]) == (second.revision, ["one", "two"])
