"""What the SQL persistence does once, at start-up: tables, a schema check, the definitions.

Several processes may start at the same moment on a fresh or upgraded database (``uvicorn
--workers 4``, a rolling deploy). Creating the tables and recording the definitions run inside
a transaction that first takes a lock: a transaction-level advisory lock on PostgreSQL, the
write lock (``BEGIN IMMEDIATE``) on SQLite. The first process does the work; the others then
find it done. Definitions are inserted with ``ON CONFLICT DO NOTHING`` as well, so a process of
an older release (which does not take the lock) cannot make the start-up fail either.

Each registered definition is compared with the graph recorded under its name and version: a
definition changed in a way its instances would notice (a step removed, renamed or retyped,
edges changed) refuses to start, asking for a new version. Changed descriptions are recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, inspect, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert

from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import DefinitionChangedError, SchemaNotReadyError
from litestar_workflows.core.types import WorkflowStatus
from litestar_workflows.db.models import (
    HumanTaskModel,
    StepExecutionModel,
    WorkflowDefinitionModel,
    WorkflowInstanceModel,
)

__all__ = ("STARTUP_LOCK_KEY", "definition_graph", "graph_changes", "prepare_schema", "record_definitions")

logger = logging.getLogger("litestar_workflows.db")

STARTUP_LOCK_KEY = 0x6C73775F73747274
"""Key of the PostgreSQL advisory lock that serialises start-ups ("lsw_strt" in ASCII)."""

_DEFINITIONS = cast("Table", WorkflowDefinitionModel.__table__)
_INSTANCES = cast("Table", WorkflowInstanceModel.__table__)
_TABLES = [
    _DEFINITIONS,
    _INSTANCES,
    cast("Table", StepExecutionModel.__table__),
    cast("Table", HumanTaskModel.__table__),
]
_UPGRADE_HINT = (
    "run the migrations (`litestar database upgrade heads`, see docs/migrations.md), "
    "or let the plugin create the tables with WorkflowPluginConfig(create_all=True) "
    "(SQLAlchemyPersistence(create_all=True)) in demos and tests"
)


def _lock(connection: Connection) -> None:
    """Wait for other processes starting up on the same database (until this transaction ends)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK_KEY})


def prepare_schema(connection: Connection, *, create_all: bool) -> None:
    """Create the missing tables (``create_all``), then check every table and column is there.

    Runs in a write transaction; raises ``SchemaNotReadyError`` naming what is missing.
    """
    if create_all:
        _lock(connection)
        WorkflowInstanceModel.metadata.create_all(connection, tables=_TABLES)
    inspector = inspect(connection)
    existing = set(inspector.get_table_names())
    missing_tables = [table.name for table in _TABLES if table.name not in existing]
    where = connection.engine.url.render_as_string(hide_password=True)
    if missing_tables:
        msg = f"the workflow tables {', '.join(missing_tables)} are missing in {where}: {_UPGRADE_HINT}"
        raise SchemaNotReadyError(msg)
    missing_columns: list[str] = []
    for table in _TABLES:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing_columns += [f"{table.name}.{column.name}" for column in table.columns if column.name not in present]
    if missing_columns:
        msg = (
            f"the workflow tables in {where} lack the columns {', '.join(missing_columns)}: the schema is older "
            "than this release of litestar-workflows; run `litestar database upgrade heads` (docs/migrations.md)"
        )
        raise SchemaNotReadyError(msg)


def definition_graph(definition: WorkflowDefinition) -> dict[str, Any]:
    """The graph of ``definition`` as recorded in ``workflow_definition.graph``."""
    return {
        "steps": {
            name: {"type": step.step_type.value, "description": step.description}
            for name, step in definition.steps.items()
        },
        "edges": [
            {"source": edge.source, "target": edge.target, "condition": edge.label} for edge in definition.graph.edges
        ],
        "initial_step": definition.initial_step,
        "terminal_steps": sorted(definition.terminal_steps),
    }


def _edges(graph: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    return {(edge["source"], edge["target"], edge.get("condition") or "") for edge in graph.get("edges", [])}


def _edge_text(edge: tuple[str, str, str]) -> str:
    source, target, condition = edge
    return f"edge {source} -> {target}" + (f" (when {condition})" if condition else "")


def graph_changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """How ``current`` differs from ``recorded`` in ways running instances notice (descriptions do not count)."""
    changes: list[str] = []
    old_steps: Mapping[str, Any] = recorded.get("steps", {})
    new_steps: Mapping[str, Any] = current.get("steps", {})
    changes += [f"step {name!r} was removed or renamed" for name in sorted(old_steps.keys() - new_steps.keys())]
    changes += [f"step {name!r} was added" for name in sorted(new_steps.keys() - old_steps.keys())]
    for name in sorted(old_steps.keys() & new_steps.keys()):
        old_type, new_type = old_steps[name].get("type"), new_steps[name].get("type")
        if old_type != new_type:
            changes.append(f"step {name!r} changed its type from {old_type!r} to {new_type!r}")
    old_edges, new_edges = _edges(recorded), _edges(current)
    changes += [f"{_edge_text(edge)} was removed" for edge in sorted(old_edges - new_edges)]
    changes += [f"{_edge_text(edge)} was added" for edge in sorted(new_edges - old_edges)]
    if recorded.get("initial_step") != current.get("initial_step"):
        changes.append(f"the initial step changed from {recorded.get('initial_step')!r} to {current['initial_step']!r}")
    if sorted(recorded.get("terminal_steps", [])) != sorted(current.get("terminal_steps", [])):
        changes.append("the terminal steps changed")
    return changes


def _insert(connection: Connection) -> Insert:
    """An insert of definitions that skips a (name, version) another process recorded meanwhile."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(_DEFINITIONS).on_conflict_do_nothing(index_elements=["name", "version"])
    if connection.dialect.name == "sqlite":
        return sqlite.insert(_DEFINITIONS).on_conflict_do_nothing(index_elements=["name", "version"])
    return insert(_DEFINITIONS)


def record_definitions(
    connection: Connection, definitions: Sequence[WorkflowDefinition], registered: set[tuple[str, str]]
) -> None:
    """Record new definitions, refuse changed ones, and warn about live instances of unregistered versions.

    Runs in a write transaction; raises ``DefinitionChangedError`` (recording nothing) when a
    definition changed under its version. ``registered``: every (name, version) the app knows.
    """
    _lock(connection)
    columns = _DEFINITIONS.c
    recorded = {
        (row.name, row.version): row
        for row in connection.execute(select(columns.name, columns.version, columns.description, columns.graph))
    }
    problems: list[str] = []
    for definition in definitions:
        graph = definition_graph(definition)
        row = recorded.get((definition.name, definition.version))
        if row is None:
            values = {"name": definition.name, "version": definition.version, "description": definition.description}
            connection.execute(_insert(connection).values(**values, graph=graph))
            continue
        changes = graph_changes(row.graph, graph)
        if changes:
            problems.append(f"{definition.name!r} version {definition.version!r}: {', '.join(changes)}")
        elif row.graph != graph or row.description != definition.description:  # descriptions only
            connection.execute(
                update(_DEFINITIONS)
                .where(columns.name == definition.name, columns.version == definition.version)
                .values(description=definition.description, graph=graph, updated_at=datetime.now(UTC))
            )
    if problems:
        raise DefinitionChangedError(
            "workflow definitions changed without a new version; instances of the recorded version would break. "
            "Register each changed workflow under a new version (and keep the old version registered while "
            "instances of it run)",
            problems,
        )
    _warn_about_unregistered(connection, registered)


def _warn_about_unregistered(connection: Connection, registered: set[tuple[str, str]]) -> None:
    columns = _INSTANCES.c
    live = [WorkflowStatus.RUNNING.value, WorkflowStatus.WAITING.value]
    rows = connection.execute(
        select(columns.workflow_name, columns.workflow_version, func.count())
        .where(columns.status.in_(live))
        .group_by(columns.workflow_name, columns.workflow_version)
    )
    for name, version, count in _sorted(rows):
        if (name, version) not in registered:
            logger.warning(
                "%d running or waiting instance(s) of workflow %r version %r, which this app does not register: "
                "they cannot advance until that version is registered again",
                count,
                name,
                version,
            )


def _sorted(rows: Iterable[Any]) -> list[tuple[str, str, int]]:
    return sorted((str(row[0]), str(row[1]), int(row[2])) for row in rows)
