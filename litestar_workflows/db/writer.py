"""Writing a group of instance changes in one transaction, in a handful of statements.

All preconditions of the group are read first with one locking query (``FOR UPDATE`` on
PostgreSQL; on SQLite the transaction began IMMEDIATE, so it already holds the write lock):
current revisions and leases of the instances, and of the tasks being closed their state, who
they are for and who holds their claim. Each change is then accepted or refused in Python (a
task closure by its own check, ``TaskClosure.refusal``: the permission rule of ``core.identity``
applied to the row as stored), and the accepted ones are written with one
``executemany`` per statement kind. A refused change writes nothing, so no savepoints are needed,
and the cost of a group barely depends on its size: that is what makes group commit pay off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import UpdateBase

from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    TaskNotFoundError,
    WorkflowInstanceNotFoundError,
)
from litestar_workflows.core.types import TaskStatus
from litestar_workflows.db.codec import execution_values, instance_values, task_values
from litestar_workflows.db.direct import direct_query, direct_statement, supports_direct
from litestar_workflows.db.models import HumanTaskModel, StepExecutionModel, WorkflowInstanceModel
from litestar_workflows.engine.persistence import InstanceChange, next_run_at

__all__ = ("Outcome", "write_changes")

INSTANCES = cast("Table", WorkflowInstanceModel.__table__)
EXECUTIONS = cast("Table", StepExecutionModel.__table__)
TASKS = cast("Table", HumanTaskModel.__table__)

_STATE_COLUMNS = (
    "workflow_name",
    "workflow_version",
    "status",
    "current_step",
    "context_step",
    "active_steps",
    "data",
    "metadata",
    "tokens",
    "ended_branches",
    "revision",
    "next_token",
    "user_id",
    "tenant_id",
    "error",
    "cancel_reason",
    "started_at",
    "completed_at",
    "next_run_at",
    "lease_owner",
    "lease_expires_at",
)
_UPDATE_INSTANCE = (
    update(INSTANCES)
    .where(INSTANCES.c.id == bindparam("b_id"))
    .values({name: bindparam(name) for name in _STATE_COLUMNS})
)
_CLOSE_TASK = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("status"),
        claimed_by=bindparam("claimed_by"),
        completed_by=bindparam("completed_by"),
        completed_at=bindparam("completed_at"),
        submitted_data=bindparam("submitted_data"),
    )
)

# Built once: building a statement and computing its cache key cost more than running it on SQLite.
# An expanding IN is re-rendered at every execution: one id (a group of one) uses ``=``.
_INSTANCE_COLUMNS = select(INSTANCES.c.id, INSTANCES.c.revision, INSTANCES.c.lease_owner, INSTANCES.c.lease_expires_at)
_INSTANCE_ROWS = (
    _INSTANCE_COLUMNS.where(INSTANCES.c.id.in_(bindparam("ids", expanding=True))),
    _INSTANCE_COLUMNS.where(INSTANCES.c.id == bindparam("id")),
)
_INSTANCE_ROWS_LOCKED = tuple(query.with_for_update() for query in _INSTANCE_ROWS)
# What the closures' checks read of each task (``TaskClosure.refusal``: state, permission, claim).
_TASK_COLUMNS = select(TASKS.c.id, TASKS.c.status, TASKS.c.assignee, TASKS.c.candidate_groups, TASKS.c.claimed_by)
_TASK_ROWS = (
    _TASK_COLUMNS.where(TASKS.c.id.in_(bindparam("ids", expanding=True))),
    _TASK_COLUMNS.where(TASKS.c.id == bindparam("id")),
)
_TASK_ROWS_LOCKED = tuple(query.with_for_update() for query in _TASK_ROWS)
_INSERT_INSTANCES = insert(INSTANCES)
_INSERT_NEW_INSTANCES = (
    postgresql.insert(INSTANCES).on_conflict_do_nothing(index_elements=[INSTANCES.c.id]).returning(INSTANCES.c.id)
)
_INSERT_TASKS = insert(TASKS)
_INSERT_EXECUTIONS = insert(EXECUTIONS)

Outcome = bool | Exception
"""Per change: whether its committer holds the lease afterwards, or why it was refused."""


def write_changes(connection: Connection, changes: list[InstanceChange], *, direct: bool = True) -> list[Outcome]:
    """Write ``changes`` in the caller's transaction; return one outcome per change, in order.

    Synchronous on purpose: the whole group runs as one call, in a thread on a SQLite file or
    through ``AsyncConnection.run_sync`` elsewhere, instead of one event-loop round trip per statement.
    ``direct``: on pysqlite, run the writes straight on the DBAPI cursor (see ``db.direct``).
    """
    locking = connection.dialect.name == "postgresql"
    ids = list({change.instance.id for change in changes})
    direct = direct and supports_direct(connection.dialect)
    found = _rows(connection, _INSTANCE_ROWS_LOCKED if locking else _INSTANCE_ROWS, ids, direct=direct)
    current = {row[0]: (row[1], row[2], row[3]) for row in found}
    task_ids = [closure.task_id for change in changes for closure in change.closed_tasks]
    tasks: dict[Any, _StoredTask] = {}
    if task_ids:
        found = _rows(connection, _TASK_ROWS_LOCKED if locking else _TASK_ROWS, task_ids, direct=direct)
        tasks = {row[0]: _StoredTask(row[0], TaskStatus(row[1]), row[2], row[3] or (), row[4]) for row in found}

    outcomes: list[Outcome] = []
    created: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    opened: list[dict[str, Any]] = []
    executions: list[dict[str, Any]] = []
    for change in changes:
        refusal = _refusal(change, current, tasks)
        if refusal is not None:
            outcomes.append(refusal)
            continue
        instance = change.instance
        now = change.now or datetime.now(UTC)
        values = instance_values(instance, next_run_at(instance, now))
        held = _lease(change, current.get(instance.id), now, values)
        if change.expected_revision == -1:
            values["id"] = instance.id
            values["started_by"] = instance.started_by  # written once: no later change touches it
            created.append(values)
        else:
            values["b_id"] = instance.id
            updated.append(values)
        current[instance.id] = (instance.revision, values["lease_owner"], values["lease_expires_at"])
        for closure in change.closed_tasks:
            stored = tasks[closure.task_id]
            claimed_by = closure.claim_after(stored.claimed_by)
            tasks[closure.task_id] = stored._replace(status=closure.status, claimed_by=claimed_by)
            closed.append(
                {
                    "b_id": closure.task_id,
                    "status": closure.status.value,
                    "claimed_by": claimed_by,
                    "completed_by": closure.completed_by,
                    "completed_at": closure.completed_at,
                    "submitted_data": closure.data,
                }
            )
        opened.extend(task_values(task) for task in change.opened_tasks)
        executions.extend(execution_values(instance.id, execution) for execution in change.executions)
        outcomes.append(held)

    if created and locking:
        # The locking read cannot lock rows that do not exist yet: two processes may both start
        # the instance with one id (an idempotency key). The loser's change alone is refused.
        inserted = {row[0] for row in connection.execute(_INSERT_NEW_INSTANCES, created)}
        duplicates = {values["id"] for values in created} - inserted
        if duplicates:
            for index, change in enumerate(changes):
                if change.expected_revision == -1 and change.instance.id in duplicates:
                    outcomes[index] = ConcurrentUpdateError(f"instance {change.instance.id} already exists")
            opened = [values for values in opened if values["instance_id"] not in duplicates]
            executions = [values for values in executions if values["instance_id"] not in duplicates]
        created = []

    _write_rows(
        connection,
        [
            (_INSERT_INSTANCES, created),
            (_UPDATE_INSTANCE, updated),
            (_CLOSE_TASK, closed),
            (_INSERT_TASKS, opened),
            (_INSERT_EXECUTIONS, executions),
        ],
        direct=direct,
    )
    return outcomes


def _write_rows(
    connection: Connection, batches: list[tuple[UpdateBase, list[dict[str, Any]]]], *, direct: bool
) -> None:
    dialect = connection.dialect
    for statement, rows in batches:
        if not rows:
            continue
        compiled = direct_statement(statement, dialect, tuple(rows[0])) if direct else None
        if compiled is not None:
            compiled.execute_many(connection, rows)
        else:
            connection.execute(statement, rows)


def _rows(connection: Connection, queries: tuple[Select[Any], ...], ids: list[Any], *, direct: bool) -> Sequence[Any]:
    if len(ids) == 1:
        compiled = direct_query(queries[1], connection.dialect) if direct else None
        if compiled is not None:
            return compiled.all(connection, {"id": ids[0]})
        return connection.execute(queries[1], {"id": ids[0]}).all()
    return connection.execute(queries[0], {"ids": ids}).all()


class _StoredTask(NamedTuple):
    """A task's row as the locking read found it (or as an earlier change of the group left it)."""

    id: Any
    status: TaskStatus
    assignee: str | None
    candidate_groups: Sequence[str]
    claimed_by: str | None


def _refusal(
    change: InstanceChange,
    current: dict[Any, tuple[int, str | None, datetime | None]],
    tasks: dict[Any, _StoredTask],
) -> Exception | None:
    instance_id = change.instance.id
    stored = current.get(instance_id)
    if change.expected_revision == -1:
        if stored is not None:
            return ConcurrentUpdateError(f"instance {instance_id} already exists")
    elif stored is None:
        return WorkflowInstanceNotFoundError(instance_id)
    elif stored[0] != change.expected_revision:
        return ConcurrentUpdateError(
            f"instance {instance_id} is at revision {stored[0]}, not {change.expected_revision}"
        )
    for closure in change.closed_tasks:
        task = tasks.get(closure.task_id)
        if task is None:
            return TaskNotFoundError(f"task {closure.task_id} not found")
        refusal = closure.refusal(task)
        if refusal is not None:
            return refusal
    return None


def _lease(
    change: InstanceChange,
    stored: tuple[int, str | None, datetime | None] | None,
    now: datetime,
    values: dict[str, Any],
) -> bool:
    """Set the lease columns in ``values``; True if the committer holds the lease afterwards."""
    holder, expires = (None, None) if stored is None else (stored[1], stored[2])
    owner, until = change.lease_owner, change.lease_until
    if owner is not None and until is not None:
        if holder is None or holder == owner or (expires is not None and expires < now):
            holder, expires = owner, until
    elif owner is not None and holder == owner:
        holder, expires = None, None
    values["lease_owner"] = holder
    values["lease_expires_at"] = expires
    return owner is not None and holder == owner
