"""A database outage answers 503 with ``Retry-After`` (never 500), and ``GET /workflows/health`` tells it.

The outage is real: the app runs on a PostgreSQL database whose connections are terminated
(``pg_terminate_backend``) and which refuses new ones (``ALLOW_CONNECTIONS false``) until the
test lets it back up.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from litestar_workflows import InMemoryPersistence, LocalExecutionEngine, WorkflowPlugin, WorkflowRegistry
from litestar_workflows.core.exceptions import DatabaseUnavailableError
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.db.outages import is_outage
from tests.conftest import PG_ADMIN_DSN, _pg
from tests.web.conftest import ALICE, BOB, AppFactory, in_app, open_task, settle, start

UNAVAILABLE = {"status_code": 503, "detail": "the workflow database is unavailable right now; try again shortly"}


@pytest.fixture
def postgres_database() -> Iterator[tuple[str, str]]:
    """(name, async URL) of a PostgreSQL database of the test's own."""
    if os.environ.get("LSW_REQUIRE_SERVICES") != "1":
        pytest.skip("needs PostgreSQL (LSW_REQUIRE_SERVICES=1)")
    name = f"lsw_outage_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield name, f"{base}/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _take_down(name: str) -> None:
    await _pg(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    await _pg(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")


async def _bring_up(name: str) -> None:
    await _pg(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def _unavailable(response: Any) -> bool:
    return bool(
        response.status_code == 503 and response.headers.get("retry-after") == "5" and response.json() == UNAVAILABLE
    )


@pytest.mark.postgres
async def test_a_database_outage_is_a_503_with_retry_after_and_the_health_check_says_so(
    make_app: AppFactory, postgres_database: tuple[str, str]
) -> None:
    name, url = postgres_database
    app = make_app(persistence=None, database_url=url)
    async with AsyncTestClient(app) as client:
        client.headers.update(ALICE)
        plugin = app.plugins.get(WorkflowPlugin)
        before = await start(client, "approval")
        task = await open_task(client, plugin, before["id"])
        assert (await client.get("/workflows/health")).json()["status"] == "ok"

        await _take_down(name)
        try:
            for response in [
                await client.get("/workflows/instances"),
                await client.get(f"/workflows/instances/{before['id']}"),
                await client.get("/workflows/tasks", headers=BOB),
                await client.post("/workflows/instances", json={"workflow": "approval", "data": {}}),
                await client.post(f"/workflows/tasks/{task['id']}/complete", json={"approved": True}, headers=BOB),
            ]:
                assert _unavailable(response), (response.request.url, response.status_code, response.text)
            health = await client.get("/workflows/health")
            assert health.status_code == 503
            assert health.json() == {
                "status": "unavailable",
                "database": {"status": "failing", "detail": "unreachable"},
                "engine": {"status": "ok"},
            }
            assert health.headers["cache-control"] == "no-store"
        finally:
            await _bring_up(name)

        assert (await client.get("/workflows/health")).status_code == 200
        listed = (await client.get("/workflows/instances")).json()
        assert [item["id"] for item in listed["items"]] == [before["id"]]  # the start during the outage left nothing
        done = await client.post(f"/workflows/tasks/{task['id']}/complete", json={"approved": True}, headers=BOB)
        assert done.status_code == 200, done.text
        await settle(client, plugin, before["id"])
        assert (await client.get(f"/workflows/instances/{before['id']}")).json()["status"] == "completed"


async def _ping(url: str) -> None:
    persistence = SQLAlchemyPersistence(url=url)
    try:
        await persistence.ping()
    finally:
        await persistence.close()


@pytest.mark.parametrize(
    "where",
    ["sqlite file in a missing folder", pytest.param("closed port", marks=pytest.mark.postgres), "missing database"],
)
async def test_an_unreachable_database_is_reported_as_unavailable(where: str, tmp_path: Path) -> None:
    if where != "sqlite file in a missing folder" and os.environ.get("LSW_REQUIRE_SERVICES") != "1":
        pytest.skip("needs PostgreSQL (LSW_REQUIRE_SERVICES=1)")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = {
        "sqlite file in a missing folder": f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'workflows.sqlite3'}",
        "closed port": "postgresql+asyncpg://postgres@127.0.0.1:1/postgres",
        "missing database": f"{base}/lsw_never_created_{uuid.uuid4().hex[:8]}",
    }[where]
    try:
        with pytest.raises(DatabaseUnavailableError) as raised:
            await _ping(url)
    finally:
        # aiosqlite stops the thread of a connection that failed to open without waiting for it;
        # the thread then reports to this test's event loop, which must still be open.
        await asyncio.to_thread(_join_aiosqlite_threads)
    assert raised.value.__cause__ is not None  # the driver's error, for the logs


def _join_aiosqlite_threads() -> None:
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            thread.join(10)


async def test_other_database_errors_are_not_outages(database_url: str) -> None:
    persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
    try:
        await persistence.ping()
        async with persistence.engine.connect() as connection:
            with pytest.raises(Exception) as duplicate:
                for _ in range(2):
                    await connection.execute(
                        text(
                            "INSERT INTO workflow_definition (id, name, version, description, graph, created_at, "
                            "updated_at) VALUES (:id, 'x', '1', '', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                        ),
                        {"id": uuid.uuid4().bytes if database_url.startswith("sqlite") else uuid.uuid4()},
                    )
            with pytest.raises(Exception) as bad_sql:
                await connection.execute(text("SELECT no_such_column FROM workflow_instance"))
    finally:
        await persistence.close()
    assert not is_outage(duplicate.value)
    assert not is_outage(bad_sql.value)


def _deny_everyone(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    raise NotAuthorizedException(detail="credentials required")


async def test_the_health_check_is_public_and_sees_a_stopped_engine_loop(make_app: AppFactory) -> None:
    app = make_app(api_guards=[_deny_everyone])
    async with AsyncTestClient(app) as client:
        client.headers.update(ALICE)
        assert (await client.get("/workflows/instances")).status_code == 401
        healthy = await client.get("/workflows/health")
        assert healthy.status_code == 200
        assert healthy.json() == {"status": "ok", "database": {"status": "ok"}, "engine": {"status": "ok"}}

        engine = app.plugins.get(WorkflowPlugin).engine
        in_app(client, _stop_claim_loop, engine)
        stopped = await client.get("/workflows/health")
        assert stopped.status_code == 503
        assert stopped.json()["engine"] == {"status": "failing", "detail": "stopped loops: claim"}


async def _stop_claim_loop(engine: Any) -> None:
    [claim] = [task for task in engine._background if task.get_name() == "litestar_workflows.claim"]
    claim.cancel()
    await asyncio.gather(claim, return_exceptions=True)


async def test_the_engine_reports_its_loops_only_while_started() -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence())
    assert engine.loops == {}
    await engine.start()
    assert engine.loops == {"claim": True, "renew": True}
    await engine.stop(0)
    assert engine.loops == {}
