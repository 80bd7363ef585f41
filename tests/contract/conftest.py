"""The persistence contract: each test here runs on every ``WorkflowPersistence``.

``backend`` is the store under test: in memory, a SQLite file, or PostgreSQL (a database of the
test's own; skipped with the reason when PostgreSQL cannot be reached, failed instead under
``LSW_REQUIRE_SERVICES=1``). ``store`` is one persistence object on it; ``backend.another()``
gives a second one on the same data, as another process would have (in memory: the same object,
since memory is not shared between processes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from litestar_workflows import WorkflowPersistence
from tests.conftest import fresh_database
from tests.contract.kit import Backend

BACKENDS = ["memory", "sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The store under test, for tests that run their own event loops (persistence objects are theirs to close)."""
    if request.param == "memory":
        yield Backend("memory", None)
        return
    with fresh_database(request.param, tmp_path) as url:
        yield Backend(request.param, url)


@pytest.fixture
async def backend(database: Backend) -> AsyncIterator[Backend]:
    """The store under test; every persistence object the test opened on it is closed afterwards."""
    yield database
    await database.close()


@pytest.fixture
def store(backend: Backend) -> WorkflowPersistence:
    """A persistence object on the store under test."""
    return backend.another()
