"""What start-up checks on the database: the tables exist, and definitions did not change under their version."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from alembic import command
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from litestar_workflows import (
    BaseHumanStep,
    Edge,
    LocalExecutionEngine,
    WorkflowPlugin,
    WorkflowPluginConfig,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import DefinitionChangedError, SchemaNotReadyError
from litestar_workflows.db import SQLAlchemyPersistence
from tests.db.test_migrations import _alembic_config
from tests.helpers import SetStep, chain, flow


def _orders(*, second: str = "ship", description: str = "Orders", version: str = "1") -> WorkflowDefinition:
    """take -> (human) check -> ``second``: the workflow whose later releases change."""
    definition = chain(
        "orders", [SetStep("take", "taken", True), BaseHumanStep("check"), SetStep(second, "done", True)], version
    )
    definition.description = description
    return definition


def _registry(*definitions: WorkflowDefinition) -> WorkflowRegistry:
    registry = WorkflowRegistry()
    for definition in definitions:
        registry.register_definition(definition)
    return registry


@pytest.fixture
async def sql(database_url: str) -> AsyncIterator[SQLAlchemyPersistence]:
    persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
    yield persistence
    await persistence.close()


async def _recorded(persistence: SQLAlchemyPersistence) -> list[tuple[str, str, str]]:
    async with persistence.engine.connect() as connection:
        rows = await connection.execute(text("SELECT name, version, description FROM workflow_definition ORDER BY 2"))
        return [(row[0], row[1], row[2]) for row in rows]


# --- missing tables --------------------------------------------------------------------------------


async def test_missing_tables_name_the_migration_command(database_url: str) -> None:
    persistence = SQLAlchemyPersistence(url=database_url)  # no create_all, no migrations run
    try:
        with pytest.raises(SchemaNotReadyError) as raised:
            await persistence.open(_registry(_orders()))
    finally:
        await persistence.close()
    message = str(raised.value)
    assert "workflow_definition, workflow_instance, workflow_step_execution, workflow_human_task" in message
    assert "`litestar database upgrade heads`" in message
    assert "docs/migrations.md" in message
    assert "create_all=True" in message


async def test_an_app_on_a_database_without_tables_refuses_to_start(tmp_path: Path) -> None:
    key = f"db_engine_{uuid4().hex}"  # see tests/web/test_plugin.py: a unique key lets advanced-alchemy dispose it
    sqlalchemy = SQLAlchemyAsyncConfig(
        connection_string=f"sqlite+aiosqlite:///{tmp_path / 'host.sqlite3'}",
        engine_app_state_key=key,
        engine_dependency_key=key,
    )
    config = WorkflowPluginConfig(workflows=[_orders()], sqlalchemy_config=sqlalchemy)
    app = Litestar(plugins=[SQLAlchemyPlugin(config=sqlalchemy), WorkflowPlugin(config)])
    # The test client hands start-up errors over in an exception group.
    expected = pytest.RaisesExc(SchemaNotReadyError, match=r"litestar database upgrade heads")
    with pytest.RaisesGroup(expected, flatten_subgroups=True):
        async with AsyncTestClient(app):
            pass


def test_a_schema_behind_the_release_names_the_missing_columns(database_url: str) -> None:
    command.upgrade(_alembic_config(database_url), "lsw_0001")  # the tables of the first release only

    async def open_it(create_all: bool) -> None:
        persistence = SQLAlchemyPersistence(url=database_url, create_all=create_all)
        try:
            await persistence.open(_registry(_orders()))
        finally:
            await persistence.close()

    with pytest.raises(SchemaNotReadyError) as raised:
        asyncio.run(open_it(create_all=True))  # create_all adds no column to an existing table
    message = str(raised.value)
    assert "lack the columns" in message
    assert "workflow_instance.started_by" in message
    assert "workflow_step_execution.traceback" in message
    assert "`litestar database upgrade heads`" in str(raised.value)

    command.upgrade(_alembic_config(database_url), "litestar_workflows@head")
    asyncio.run(open_it(create_all=False))


# --- changed definitions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changed", "differences"),
    [
        (
            _orders(second="dispatch"),
            [
                "step 'ship' was removed or renamed",
                "step 'dispatch' was added",
                "edge check -> ship was removed",
                "edge check -> dispatch was added",
                "the terminal steps changed",
            ],
        ),
        (
            chain("orders", [SetStep("take", "taken", True), SetStep("check"), SetStep("ship", "done", True)]),
            ["step 'check' changed its type from 'human' to 'machine'"],
        ),
        (
            flow(
                "orders",
                [SetStep("take", "taken", True), BaseHumanStep("check"), SetStep("ship", "done", True)],
                [Edge("take", "check"), Edge("check", "ship", "approved == true")],
                "take",
                ["ship"],
            ),
            ["edge check -> ship was removed", "edge check -> ship (when approved == true) was added"],
        ),
    ],
    ids=["step renamed", "step type changed", "edge condition changed"],
)
async def test_a_definition_changed_under_its_version_refuses_to_start(
    sql: SQLAlchemyPersistence, changed: WorkflowDefinition, differences: list[str]
) -> None:
    await sql.open(_registry(_orders()))

    with pytest.raises(DefinitionChangedError) as raised:
        await sql.open(_registry(changed, _orders(version="2", second="other")))

    message = str(raised.value)
    assert f"'orders' version '1': {', '.join(differences)}" in message
    assert "new version" in message
    assert raised.value.errors == [f"'orders' version '1': {', '.join(differences)}"]
    assert await _recorded(sql) == [("orders", "1", "Orders")]  # nothing recorded, not even version 2


async def test_description_changes_are_recorded_and_accepted(sql: SQLAlchemyPersistence) -> None:
    await sql.open(_registry(_orders()))
    await sql.open(_registry(_orders(description="Customer orders")))
    assert await _recorded(sql) == [("orders", "1", "Customer orders")]


async def test_live_instances_of_an_unregistered_version_are_warned_about(
    sql: SQLAlchemyPersistence, caplog: pytest.LogCaptureFixture
) -> None:
    first = _orders()
    engine = LocalExecutionEngine(_registry(first), sql)
    started = [await engine.start_workflow(first) for _ in range(2)]
    for instance in started:
        assert (await engine.wait_for(instance.id, timeout=5)).status is WorkflowStatus.WAITING
    await engine.stop(0)
    caplog.set_level(logging.WARNING, logger="litestar_workflows")

    await sql.open(_registry(_orders(version="2")))

    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            "litestar_workflows.db",
            logging.WARNING,
            "2 running or waiting instance(s) of workflow 'orders' version '1', which this app does not register: "
            "they cannot advance until that version is registered again",
        )
    ]
    caplog.clear()
    await sql.open(_registry(first, _orders(version="2")))
    assert caplog.records == []
