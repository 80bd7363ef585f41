"""The plugin's nested settings: ``engine_config`` (leases, polling, grace period) and ``persistence_config``."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar
from litestar.exceptions import ImproperlyConfiguredException
from litestar.testing import AsyncTestClient
from sqlalchemy import text

import litestar_workflows.db
from litestar_workflows import (
    BaseMachineStep,
    InMemoryPersistence,
    SQLPersistenceConfig,
    WorkflowContext,
    WorkflowEngineConfig,
    WorkflowPlugin,
    WorkflowPluginConfig,
    WorkflowStatus,
)
from litestar_workflows.db import SQLAlchemyPersistence
from tests.helpers import chain
from tests.web.conftest import ALICE, in_app, make_config, start
from tests.web.test_plugin import _sqlalchemy


async def test_engine_settings_reach_every_engine_the_app_runs() -> None:
    settings = WorkflowEngineConfig(lease_seconds=45, poll_interval=0.25, grace_period=1)
    app = Litestar(plugins=[WorkflowPlugin(make_config(engine_config=settings))])
    plugin = app.plugins.get(WorkflowPlugin)
    for _restart in range(2):  # the app started twice: a new engine each time, with the same settings
        async with AsyncTestClient(app):
            assert (plugin.engine.lease_seconds, plugin.engine.poll_interval) == (45, 0.25)
    assert WorkflowPluginConfig().engine_config == WorkflowEngineConfig(
        lease_seconds=30, poll_interval=1, grace_period=5
    )


class Slow(BaseMachineStep):
    """Says it started, then takes a moment (longer than no grace at all, far shorter than 5 s)."""

    name = "slow"
    started: asyncio.Event | None = None

    async def execute(self, context: WorkflowContext) -> None:
        assert Slow.started is not None
        Slow.started.set()
        await asyncio.sleep(0.2)
        context.set("finished", True)


async def _wait_started() -> None:
    Slow.started = asyncio.Event()  # on the app's loop, before the step runs
    await Slow.started.wait()


@pytest.mark.parametrize(("grace_period", "outcome"), [(5.0, WorkflowStatus.COMPLETED), (0.0, WorkflowStatus.RUNNING)])
async def test_the_grace_period_decides_whether_a_running_step_finishes_at_shutdown(
    grace_period: float, outcome: WorkflowStatus
) -> None:
    persistence = InMemoryPersistence()
    settings = WorkflowEngineConfig(grace_period=grace_period)
    config = make_config(workflows=[chain("slow", [Slow()])], persistence=persistence, engine_config=settings)
    app = Litestar(plugins=[WorkflowPlugin(config)])
    async with AsyncTestClient(app) as client:
        waiting = client.blocking_portal.start_task_soon(_wait_started)
        instance = await start(client, "slow", headers=ALICE)
        waiting.result(timeout=10)  # the step is running when the app shuts down
    [stored] = await persistence.list_instances()
    assert str(stored.id) == instance["id"]
    assert stored.status is outcome  # without a grace period the step is cancelled; it reruns at the next start


async def _pragma_synchronous(persistence: Any) -> int:
    async with persistence.engine.connect() as connection:
        return int((await connection.execute(text("PRAGMA synchronous"))).scalar_one())


@pytest.mark.parametrize(("level", "pragma"), [("NORMAL", 1), ("FULL", 2), ("EXTRA", 3)])
async def test_sqlite_durability_is_set_from_the_plugin(tmp_path: Path, level: Any, pragma: int) -> None:
    config = make_config(
        persistence=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite3'}",
        persistence_config=SQLPersistenceConfig(sqlite_synchronous=level),
    )
    app = Litestar(plugins=[WorkflowPlugin(config)])
    async with AsyncTestClient(app) as client:
        assert in_app(client, _pragma_synchronous, app.plugins.get(WorkflowPlugin).persistence) == pragma


async def test_the_sql_persistence_is_built_with_the_settings_in_either_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[dict[str, Any]] = []

    class Recorded(SQLAlchemyPersistence):
        def __init__(self, *args: Any, **options: Any) -> None:
            built.append(options)
            super().__init__(*args, **options)

    monkeypatch.setattr(litestar_workflows.db, "SQLAlchemyPersistence", Recorded)
    settings = SQLPersistenceConfig(sqlite_synchronous="NORMAL", max_batch=7, pool_size=3)
    own_url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
    WorkflowPlugin(make_config(persistence=None, database_url=own_url, persistence_config=settings))
    sqlalchemy = _sqlalchemy(tmp_path)
    host = make_config(persistence=None, sqlalchemy_config=sqlalchemy, create_all=True, persistence_config=settings)
    app = Litestar(plugins=[SQLAlchemyPlugin(config=sqlalchemy), WorkflowPlugin(host)])
    async with AsyncTestClient(app):
        pass
    chosen = [(options["max_batch"], options["sqlite_synchronous"], options["pool_size"]) for options in built]
    assert chosen == [(7, "NORMAL", 3)] * len(built)
    assert len(built) >= 2


@pytest.mark.parametrize(
    "build",
    [
        lambda: WorkflowEngineConfig(lease_seconds=0),
        lambda: WorkflowEngineConfig(poll_interval=-1),
        lambda: WorkflowEngineConfig(grace_period=-0.5),
        lambda: WorkflowEngineConfig(lease_seconds=float("nan")),
        lambda: SQLPersistenceConfig(sqlite_synchronous="OFF"),  # type: ignore[arg-type]  # what the check refuses
        lambda: SQLPersistenceConfig(max_batch=0),
        lambda: SQLPersistenceConfig(pool_size=0),
        lambda: WorkflowPluginConfig(persistence=InMemoryPersistence(), persistence_config=SQLPersistenceConfig()),
    ],
)
def test_settings_are_checked(build: Any) -> None:
    with pytest.raises(ImproperlyConfiguredException):
        build()


@pytest.mark.parametrize("freeze", [True, False])
async def test_start_up_moves_the_app_out_of_the_collectors_reach(freeze: bool) -> None:
    gc.unfreeze()
    app = Litestar(plugins=[WorkflowPlugin(make_config(freeze_gc=freeze))])
    async with AsyncTestClient(app) as client:
        assert (await client.get("/workflows/definitions", headers=ALICE)).status_code == 200
        frozen = gc.get_freeze_count()
    assert (frozen > 10_000) is freeze, frozen  # the app, its routes, Litestar and the rest of start-up
