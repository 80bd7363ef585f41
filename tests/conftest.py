"""Fixtures: a registry, in-memory persistence, an event bus, an engine, and SQL databases (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from litestar_workflows import InMemoryEventBus, InMemoryPersistence, LocalExecutionEngine, WorkflowRegistry


@pytest.fixture(autouse=True)
def _collectable_again() -> Iterator[None]:
    """Undo the ``gc.freeze()`` of an app's start-up (``WorkflowPluginConfig.freeze_gc``) after each test.

    A test process starts hundreds of apps: what one froze would otherwise never be collected.
    """
    yield
    gc.unfreeze()


@pytest.fixture
def registry() -> WorkflowRegistry:
    return WorkflowRegistry()


@pytest.fixture
def persistence() -> InMemoryPersistence:
    return InMemoryPersistence()


@pytest.fixture
def event_bus() -> InMemoryEventBus:
    return InMemoryEventBus()


@pytest.fixture
async def engine(
    registry: WorkflowRegistry, persistence: InMemoryPersistence, event_bus: InMemoryEventBus
) -> AsyncIterator[LocalExecutionEngine]:
    engine = LocalExecutionEngine(registry, persistence, event_bus)
    yield engine
    await engine.stop(0)


PG_ADMIN_DSN = os.environ.get("LSW_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _require_services() -> bool:
    return os.environ.get("LSW_REQUIRE_SERVICES") == "1"


async def _pg(statement: str) -> None:
    import asyncpg

    connection = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_DSN), 5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """A database no other test uses, as an async SQLAlchemy URL: a SQLite file in ``folder``, or PostgreSQL.

    PostgreSQL skips the test with the reason when it cannot be reached, except under
    ``LSW_REQUIRE_SERVICES=1``, where that fails the test. Call it outside a running event loop.
    """
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'workflows.sqlite3'}"
        return
    name = f"lsw_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError) as exc:
        if _require_services():
            pytest.fail(f"PostgreSQL is required (LSW_REQUIRE_SERVICES=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_DSN}: {exc}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database no other test uses, as an async SQLAlchemy URL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url
