"""The packaged Alembic revisions build exactly the schema the models declare, on SQLite and PostgreSQL.

Each test runs the revisions the way a user would (``alembic upgrade litestar_workflows@head``
through the repo's ``alembic.ini`` and ``alembic/env.py``) against a database nobody else uses,
then compares the live schema with ``litestar_workflows.db.models`` using Alembic's autogenerate
comparison, with type comparison on.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Table, delete, event, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from litestar_workflows.db.models import (
    HumanTaskModel,
    StepExecutionModel,
    WorkflowDefinitionModel,
    WorkflowInstanceModel,
)
from litestar_workflows.migrations import BRANCH_LABEL, VERSIONS_PATH, compare_type

REPO_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = REPO_ROOT / "alembic.ini"
METADATA = WorkflowInstanceModel.metadata
MODELS = (WorkflowDefinitionModel, WorkflowInstanceModel, StepExecutionModel, HumanTaskModel)
OUR_TABLES = frozenset(model.__tablename__ for model in MODELS)
VERSION_TABLE = "alembic_versions"
STEP_SEQUENCE = "workflow_step_execution_id_seq"
LSW_HEAD = "lsw_0005_indexes"
"""The newest revision of the branch."""
GUID_COLUMNS = {
    "workflow_definition": ("id",),
    "workflow_instance": ("id",),
    "workflow_step_execution": ("instance_id",),
    "workflow_human_task": ("id", "instance_id"),
}
PG_ADMIN_DSN = os.environ.get("LSW_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


# --- databases -----------------------------------------------------------------------------------


async def _pg_admin(statement: str) -> None:
    import asyncpg

    connection = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_DSN), 5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, as an async SQLAlchemy URL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"lsw_mig_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError) as exc:
        if os.environ.get("LSW_REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL is required (LSW_REQUIRE_SERVICES=1) but unreachable at {PG_ADMIN_DSN}: {exc!r}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_DSN} ({exc!r}); set LSW_REQUIRE_SERVICES=1 to fail instead")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _alembic_config(url: str, ini: Path = ALEMBIC_INI) -> Config:
    config = Config(str(ini))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False  # leave pytest's logging alone
    return config


def _run_sync(url: str, fn: Any) -> Any:
    """Run ``fn(sync_connection)`` on a fresh connection to ``url`` and return its result."""

    async def run() -> Any:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


# --- schema inspection ---------------------------------------------------------------------------


def _only_ours(name: str | None, type_: str, parent_names: Any) -> bool:
    return name in OUR_TABLES if type_ == "table" else True


def _only_our_objects(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return name in OUR_TABLES if type_ == "table" else True


def _schema_diffs(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": compare_type,
            "include_name": _only_ours,
            "include_object": _only_our_objects,
            "target_metadata": METADATA,
        },
    )
    return list(compare_metadata(context, METADATA))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _sequences(connection: Connection) -> set[str]:
    return set(inspect(connection).get_sequence_names())


def _declared_sqlite_types(connection: Connection) -> dict[tuple[str, str], str]:
    declared: dict[tuple[str, str], str] = {}
    for table in OUR_TABLES:
        for row in connection.exec_driver_sql(f"PRAGMA table_info({table})"):
            declared[(table, row[1])] = row[2]
    return declared


def _foreign_keys(connection: Connection) -> dict[str, tuple[str | None, str | None]]:
    inspector = inspect(connection)
    return {
        str(fk["name"]): (fk["referred_table"], fk.get("options", {}).get("ondelete"))
        for table in OUR_TABLES
        for fk in inspector.get_foreign_keys(table)
    }


def _current_heads(connection: Connection) -> set[str]:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return set(context.get_current_heads())


# --- tests ---------------------------------------------------------------------------------------


def test_every_workflow_table_is_covered() -> None:
    """A new ``workflow_*`` model table must come with a revision (and be added to this module)."""
    assert {name for name in METADATA.tables if name.startswith("workflow_")} == OUR_TABLES
    assert len(OUR_TABLES) == 4


def test_revisions_ship_inside_the_package_on_their_own_branch() -> None:
    versions = Path(VERSIONS_PATH)
    assert versions.is_absolute()
    assert (versions / "lsw_0001_initial.py").is_file()
    assert versions.parent == Path(__file__).resolve().parents[2] / "litestar_workflows" / "migrations"

    script = ScriptDirectory.from_config(_alembic_config("sqlite+aiosqlite://"))
    base = script.get_revision("lsw_0001")
    assert base is not None
    assert base.down_revision is None
    assert base.branch_labels == {BRANCH_LABEL}
    assert script.get_revisions(f"{BRANCH_LABEL}@head")[0] is not None


def test_upgrade_builds_exactly_the_models_schema(db_url: str) -> None:
    command.upgrade(_alembic_config(db_url), f"{BRANCH_LABEL}@head")

    assert _run_sync(db_url, _schema_diffs) == []
    assert _run_sync(db_url, _tables) >= OUR_TABLES
    assert _run_sync(db_url, _current_heads) == {LSW_HEAD}
    # Alembic compares FKs by columns; check the names and ON DELETE explicitly.
    assert _run_sync(db_url, _foreign_keys) == {
        "fk_workflow_step_execution_instance_id_workflow_instance": ("workflow_instance", "CASCADE"),
        "fk_workflow_human_task_instance_id_workflow_instance": ("workflow_instance", "CASCADE"),
    }
    if db_url.startswith("sqlite"):
        # compare_type() calls SQLite's NUMERIC(16) reflection of GUID equal; the declared type proves it.
        declared = _run_sync(db_url, _declared_sqlite_types)
        for table, columns in GUID_COLUMNS.items():
            for column in columns:
                assert declared[(table, column)] == "BINARY(16)", (table, column)
        assert declared[("workflow_step_execution", "id")] == "INTEGER"  # the rowid alias
    else:
        # BigIntBase draws ids from its own sequence; Alembic's comparison does not look at sequences.
        assert STEP_SEQUENCE in _run_sync(db_url, _sequences)

    # Upgrading again is a no-op.
    command.upgrade(_alembic_config(db_url), f"{BRANCH_LABEL}@head")
    assert _run_sync(db_url, _current_heads) == {LSW_HEAD}


def test_downgrade_to_base_removes_the_tables(db_url: str) -> None:
    config = _alembic_config(db_url)
    command.upgrade(config, f"{BRANCH_LABEL}@head")
    command.downgrade(config, "base")

    assert _run_sync(db_url, _tables).isdisjoint(OUR_TABLES)
    assert _run_sync(db_url, _current_heads) == set()
    if not db_url.startswith("sqlite"):
        assert STEP_SEQUENCE not in _run_sync(db_url, _sequences)

    # and the branch applies again cleanly afterwards
    command.upgrade(config, f"{BRANCH_LABEL}@head")
    assert _run_sync(db_url, _schema_diffs) == []


def _instance_columns(connection: Connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("workflow_instance")}


def _insert_0001_rows(connection: Connection) -> None:
    """An instance with a task, written as lsw_0001's schema has them (no ``started_by``)."""
    now = datetime.now(UTC)
    instance_id, task_id = uuid.uuid4(), uuid.uuid4()
    instances = cast("Table", WorkflowInstanceModel.__table__)
    tasks = cast("Table", HumanTaskModel.__table__)
    columns = {column.name for column in instances.columns} - {"started_by"}
    values: dict[str, Any] = {
        "id": instance_id,
        "workflow_name": "wf",
        "workflow_version": "1",
        "status": "waiting",
        "context_step": "a",
        "active_steps": ["a"],
        "data": {},
        "metadata": {},
        "tokens": [],
        "ended_branches": [],
        "revision": 1,
        "next_token": 2,
        "started_at": now,
    }
    connection.execute(instances.insert().values({key: value for key, value in values.items() if key in columns}))
    connection.execute(
        tasks.insert().values(
            id=task_id,
            instance_id=instance_id,
            workflow_name="wf",
            step_name="a",
            token_id="t1",
            title="Approve",
            description="",
            candidate_groups=[],
            groups_text="",
            status="open",
        )
    )
    connection.commit()


def _started_by_and_tasks(connection: Connection) -> tuple[list[Any], int]:
    starters = list(connection.execute(select(cast("Table", WorkflowInstanceModel.__table__).c.started_by)).scalars())
    return starters, _task_count(connection)


def _task_count(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(HumanTaskModel)).scalar_one())


def test_started_by_upgrade_keeps_rows_and_downgrade_keeps_their_tasks(db_url: str) -> None:
    config = _alembic_config(db_url)
    command.upgrade(config, "lsw_0001")
    assert "started_by" not in _run_sync(db_url, _instance_columns)
    _run_sync(db_url, _insert_0001_rows)

    command.upgrade(config, f"{BRANCH_LABEL}@head")
    assert _run_sync(db_url, _started_by_and_tasks) == ([None], 1)  # existing instances: no recorded starter
    assert _run_sync(db_url, _schema_diffs) == []

    command.downgrade(config, "lsw_0001")
    assert "started_by" not in _run_sync(db_url, _instance_columns)
    assert _run_sync(db_url, _task_count) == 1  # the instance and its task are still there


def test_the_orm_works_on_the_migrated_schema(db_url: str) -> None:
    """Rows go in through the models (GUIDs, JSON, UTC timestamps, the id sequence) and cascade out."""
    command.upgrade(_alembic_config(db_url), f"{BRANCH_LABEL}@head")

    async def exercise() -> tuple[int, int, list[int]]:
        engine = create_async_engine(db_url, poolclass=NullPool)
        if engine.dialect.name == "sqlite":

            @event.listens_for(engine.sync_engine, "connect")
            def _foreign_keys_on(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

        now = datetime.now(UTC)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                session.add(WorkflowDefinitionModel(name="wf", version="1", graph={"steps": ["a"]}))
                instance = WorkflowInstanceModel(
                    workflow_name="wf",
                    workflow_version="1",
                    status="running",
                    context_step="a",
                    active_steps=["a"],
                    data={"n": 1},
                    meta={},
                    tokens=[{"id": 1}],
                    ended_branches=(),
                    revision=1,
                    next_token=2,
                    started_at=now,
                )
                session.add(instance)
                await session.flush()
                steps = [
                    StepExecutionModel(instance_id=instance.id, step_name="a", attempt=attempt, status="succeeded")
                    for attempt in (1, 2, 3)
                ]
                session.add_all(steps)
                session.add(
                    HumanTaskModel(
                        instance_id=instance.id,
                        workflow_name="wf",
                        step_name="a",
                        token_id="1",
                        title="Approve",
                        candidate_groups=["managers"],
                        status="open",
                        due_at=now,
                    )
                )
                await session.commit()
                step_ids = [step.id for step in steps]

                loaded = await session.get(WorkflowInstanceModel, instance.id, populate_existing=True)
                assert loaded is not None
                assert loaded.data == {"n": 1}
                assert loaded.started_at == now

                await session.execute(
                    delete(WorkflowInstanceModel)
                    .where(WorkflowInstanceModel.id == instance.id)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
                remaining_steps = await session.scalar(select(func.count()).select_from(StepExecutionModel))
                remaining_tasks = await session.scalar(select(func.count()).select_from(HumanTaskModel))
                return int(remaining_steps or 0), int(remaining_tasks or 0), step_ids
        finally:
            await engine.dispose()

    remaining_steps, remaining_tasks, step_ids = asyncio.run(exercise())
    assert step_ids == sorted(step_ids)
    assert len(set(step_ids)) == 3
    assert (remaining_steps, remaining_tasks) == (0, 0)  # ON DELETE CASCADE


HOST_REVISION = '''"""host app: its own table, on its own branch."""

import sqlalchemy as sa
from alembic import op

revision = "host_0001"
down_revision = None
branch_labels = ("host",)
depends_on = None


def upgrade() -> None:
    op.create_table("host_thing", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("host_thing")
'''


def test_host_app_runs_both_branches_with_upgrade_heads(tmp_path: Path) -> None:
    """A host app that adds VERSIONS_PATH to its version_locations gets our tables from ``upgrade heads``."""
    host_versions = tmp_path / "migrations" / "versions"
    host_versions.mkdir(parents=True)
    (host_versions / "host_0001_initial.py").write_text(HOST_REVISION)
    ini = tmp_path / "alembic.ini"
    ini.write_text(
        "[alembic]\n"
        f"script_location = {REPO_ROOT / 'alembic'}\n"
        f"version_locations = {os.pathsep.join(['%(here)s/migrations/versions', VERSIONS_PATH])}\n"
        "path_separator = os\n"
        f"version_table = {VERSION_TABLE}\n"
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'host.sqlite3'}"
    config = _alembic_config(url, ini)

    assert set(ScriptDirectory.from_config(config).get_heads()) == {"host_0001", LSW_HEAD}
    command.upgrade(config, "heads")

    assert _run_sync(url, _tables) >= {"host_thing", *OUR_TABLES}
    assert _run_sync(url, _current_heads) == {"host_0001", LSW_HEAD}
    assert _run_sync(url, _schema_diffs) == []


def _step_rows(connection: Connection) -> list[tuple[str, Any]]:
    columns = {column["name"] for column in inspect(connection).get_columns("workflow_step_execution")}
    traceback = "traceback" if "traceback" in columns else "NULL"
    rows = connection.exec_driver_sql(f"SELECT step_name, {traceback} FROM workflow_step_execution ORDER BY id")
    return [(row[0], row[1]) for row in rows]


def _add_history_at_lsw_0001(connection: Connection) -> None:
    """An instance with one recorded step, written as the schema of ``lsw_0001`` allows."""
    instance_id = uuid.uuid4()
    instance = cast("Table", WorkflowInstanceModel.__table__)
    steps = cast("Table", StepExecutionModel.__table__)
    connection.execute(
        instance.insert().values(
            id=instance_id,
            workflow_name="wf",
            workflow_version="1",
            status="completed",
            context_step="a",
            active_steps=[],
            data={},
            metadata={},
            tokens=[],
            ended_branches=[],
            revision=1,
            next_token=2,
        )
    )
    connection.execute(steps.insert().values(instance_id=instance_id, step_name="a", attempt=1, status="failed"))
    connection.commit()


def test_upgrading_a_database_with_history_adds_the_traceback_column(db_url: str) -> None:
    """``lsw_0003_step_traceback`` keeps existing history (traceback NULL) and downgrades cleanly."""
    config = _alembic_config(db_url)
    command.upgrade(config, "lsw_0001")
    _run_sync(db_url, _add_history_at_lsw_0001)

    command.upgrade(config, f"{BRANCH_LABEL}@head")
    assert _run_sync(db_url, _step_rows) == [("a", None)]
    assert _run_sync(db_url, _schema_diffs) == []

    command.downgrade(config, "lsw_0001")
    assert _run_sync(db_url, _step_rows) == [("a", None)]
    columns = _run_sync(db_url, lambda c: {col["name"] for col in inspect(c).get_columns("workflow_step_execution")})
    assert "traceback" not in columns


def _parent_links(connection: Connection) -> list[tuple[object, object]]:
    rows = connection.exec_driver_sql("SELECT parent_id, parent_token FROM workflow_instance")
    return [(row[0], row[1]) for row in rows]


def test_upgrading_to_lsw_0004_makes_existing_instances_top_level(db_url: str) -> None:
    """``lsw_0004_parent`` adds the parent link (NULL: a top-level instance) and downgrades cleanly."""
    config = _alembic_config(db_url)
    command.upgrade(config, "lsw_0001")
    _run_sync(db_url, _add_history_at_lsw_0001)

    command.upgrade(config, f"{BRANCH_LABEL}@head")
    assert _run_sync(db_url, _parent_links) == [(None, None)]
    assert _run_sync(db_url, _schema_diffs) == []

    command.downgrade(config, "lsw_0003_step_traceback")
    columns = _run_sync(db_url, lambda c: {col["name"] for col in inspect(c).get_columns("workflow_instance")})
    assert not columns & {"parent_id", "parent_token"}
    assert _run_sync(db_url, _step_rows) == [("a", None)]


_INDEXED_TABLES = ("workflow_instance", "workflow_human_task")


def _index_names(connection: Connection) -> set[str]:
    inspector = inspect(connection)
    return {str(index["name"]) for table in _INDEXED_TABLES for index in inspector.get_indexes(table)}


def _partial_indexes(connection: Connection) -> set[str]:
    """Names of the workflow tables' indexes that leave rows out (a WHERE in their definition)."""
    if connection.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '% WHERE %'"
    return {str(row[0]) for row in connection.exec_driver_sql(query)}


def test_lsw_0005_changes_only_indexes_and_downgrades_to_the_old_ones(db_url: str) -> None:
    """Three instance indexes become one, the parent link and task due time become partial; rows stay."""
    config = _alembic_config(db_url)
    command.upgrade(config, "lsw_0001")
    _run_sync(db_url, _add_history_at_lsw_0001)
    command.upgrade(config, "lsw_0004_parent")
    before = _run_sync(db_url, _index_names)

    command.upgrade(config, f"{BRANCH_LABEL}@head")
    after = _run_sync(db_url, _index_names)
    dropped = {f"ix_workflow_instance_{name}" for name in ("status", "next_run_at", "lease_expires_at")}
    assert (before - after, after - before) == (dropped, {"ix_workflow_instance_status_next_run_at"})
    assert _run_sync(db_url, _partial_indexes) == {"ix_workflow_instance_parent_id", "ix_workflow_human_task_due_at"}
    assert _run_sync(db_url, _step_rows) == [("a", None)]
    assert _run_sync(db_url, _schema_diffs) == []

    command.downgrade(config, "lsw_0004_parent")
    assert _run_sync(db_url, _index_names) == before
    assert _run_sync(db_url, _partial_indexes) == set()
    assert _run_sync(db_url, _step_rows) == [("a", None)]
