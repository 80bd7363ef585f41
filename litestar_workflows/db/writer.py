"""Writing a batch of commits in one transaction, in a handful of statements.

A commit is an ``InstanceChange`` with its linked changes (its *members*). All preconditions of
the batch are read first with one locking query (``FOR UPDATE`` on PostgreSQL; on SQLite the
transaction began IMMEDIATE, so it already holds the write lock): current revisions and leases
of the instances, and of the tasks being closed their state, who they are for and who holds
their claim. Each commit is then accepted or refused in Python, as a whole: every member is
checked (a task closure by its own check, ``TaskClosure.refusal``: the permission rule of
``core.identity`` applied to the row as stored), and one refused member refuses the commit.
The accepted ones are written with one ``executemany`` per statement kind. A refused commit
writes nothing, so no savepoints are needed, and the cost of a batch barely depends on its
size: that is what makes group commit pay off.

On PostgreSQL the locking read cannot lock rows that do not exist yet, so it leaves out the
instances a batch creates: their plain ``INSERT`` is the check (the primary key admits one row).
Only if it fails on a duplicate is the batch written again *carefully*: created instances read
too, and inserted with ``ON CONFLICT DO NOTHING RETURNING`` to learn which commits lost (see
``DuplicateCreations``). A start is then one statement fewer, and no statement is compiled anew.

On PostgreSQL a commit alone in its batch is usually written without this module's read and
transaction: ``db.alone`` decides it with ``accept`` on the row as the writer last left it and
writes it as one statement that checks the row is still so. On SQLite a whole batch is, when
the writer knows every row it updates (``db.known``): the updates then require the rows to be as
known, and if one is not, the transaction is rolled back and the batch written again with the read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from litestar_workflows.core.exceptions import ConcurrentUpdateError
from litestar_workflows.core.types import TaskStatus
from litestar_workflows.db.codec import execution_values, instance_values, task_values
from litestar_workflows.db.direct import direct_query, direct_statement, supports_direct
from litestar_workflows.db.known import KnownRows
from litestar_workflows.db.models import HumanTaskModel, StepExecutionModel, WorkflowInstanceModel
from litestar_workflows.engine.persistence import InstanceChange, TaskClosure, commit_refusal, next_run_at

__all__ = (
    "EXECUTIONS",
    "INSTANCES",
    "STATE_COLUMNS",
    "TASKS",
    "DuplicateCreations",
    "NotAsKnown",
    "Outcome",
    "Rows",
    "Stored",
    "StoredInstance",
    "StoredTask",
    "accept",
    "note_committed",
    "write_changes",
)

INSTANCES = cast("Table", WorkflowInstanceModel.__table__)
EXECUTIONS = cast("Table", StepExecutionModel.__table__)
TASKS = cast("Table", HumanTaskModel.__table__)

STATE_COLUMNS = (
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
_UPDATE_INSTANCE = update(INSTANCES).where(INSTANCES.c.id == bindparam("b_id"))
"""Sets the columns its rows have values for (``STATE_COLUMNS``, or fewer: ``Rows.narrow``)."""
_UPDATE_KNOWN_INSTANCE = _UPDATE_INSTANCE.where(
    INSTANCES.c.revision == bindparam("k_revision"),
    INSTANCES.c.lease_owner.is_not_distinct_from(bindparam("k_owner")),
    INSTANCES.c.lease_expires_at.is_not_distinct_from(bindparam("k_expires")),
)
"""An instance's update that writes only over the row as known (``k_``: revision, lease owner, expiry)."""
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

Outcome = tuple[bool, ...] | Exception
"""Per commit: for each of its members (``InstanceChange.members``), whether its committer holds
the lease afterwards; or why the commit was refused."""


class NotAsKnown(Exception):
    """SQLite: an instance row was not as the writer knew it; roll back and write the batch with the read."""


class DuplicateCreations(Exception):
    """PostgreSQL: instances the batch creates were created meanwhile by another transaction.

    The transaction must be rolled back and the batch written again without the commits in
    ``refusals`` (by position in the batch), whose callers get that refusal.
    """

    def __init__(self, refusals: dict[int, ConcurrentUpdateError]) -> None:
        super().__init__(f"{len(refusals)} commit(s) create instances that exist")
        self.refusals = refusals


class StoredTask(NamedTuple):
    """A task's row as the locking read found it (or as an earlier commit of the batch left it)."""

    id: Any
    status: TaskStatus
    assignee: str | None
    candidate_groups: Sequence[str]
    claimed_by: str | None


StoredInstance = tuple[int, str | None, datetime | None]
"""An instance row's revision, lease owner and lease expiry."""


@dataclass(slots=True)
class Stored:
    """What the batch's commits find stored: as read, then as the commits accepted so far leave it."""

    instances: dict[Any, StoredInstance]
    tasks: dict[Any, StoredTask]


_WRITTEN_ONCE = ("workflow_name", "workflow_version", "started_at")  # a start writes them, nothing later


@dataclass(slots=True)
class Rows:
    """The rows the accepted commits write, one list per statement. ``narrow`` (SQLite): an update sets
    only columns that may have changed, since SQLite rewrites the index entries of every column it sets."""

    narrow: bool = False
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    kept_status: list[dict[str, Any]] = field(default_factory=list)  # narrow updates without ``status``
    closed: list[dict[str, Any]] = field(default_factory=list)
    opened: list[dict[str, Any]] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)

    def write(self, connection: Connection, *, direct: bool, checked: bool = False) -> None:
        """Run the statements; ``checked``: the updates carry the rows as known, ``NotAsKnown`` if one was not."""
        update = _UPDATE_KNOWN_INSTANCE if checked else _UPDATE_INSTANCE
        batches = [
            (_INSERT_INSTANCES, self.created),
            (update, self.updated),
            (update, self.kept_status),
            (_CLOSE_TASK, self.closed),
            (_INSERT_TASKS, self.opened),
            (_INSERT_EXECUTIONS, self.executions),
        ]
        dialect = connection.dialect
        for statement, rows in batches:
            if not rows:
                continue
            compiled = direct_statement(statement, dialect, tuple(rows[0])) if direct else None
            if compiled is not None:
                count = compiled.execute_many(connection, rows)
            else:
                count = connection.execute(statement, rows).rowcount
            if checked and statement is update and count != len(rows):
                raise NotAsKnown


def write_changes(
    connection: Connection,
    changes: list[InstanceChange],
    *,
    direct: bool = True,
    careful: bool = False,
    seen: dict[Any, StoredInstance] | None = None,
    known: KnownRows | None = None,
) -> list[Outcome]:
    """Write ``changes`` (each with its linked changes) in the caller's transaction; one outcome per change.

    Synchronous on purpose: the whole batch runs as one call, in the writer thread on a SQLite
    file or through ``AsyncConnection.run_sync`` elsewhere, instead of one event-loop round trip
    per statement. ``direct``: on pysqlite and asyncpg, run the writes straight on the DBAPI
    cursor (see ``db.direct``). ``careful`` (PostgreSQL): read and insert the created instances
    so that a duplicate refuses its commit alone, instead of failing the transaction on an
    ``IntegrityError`` (see the module's description). Raises ``DuplicateCreations`` (careful)
    when the transaction must be rolled back and the batch written again without some commits.
    ``seen``: filled with each instance row the batch read or wrote, as this transaction leaves it
    (for ``KnownRows``, once the transaction committed). ``known`` (SQLite): the rows as this
    writer knows them; if they cover the batch, nothing is read, and ``NotAsKnown`` is raised
    (with some rows written: roll back) if one was not as known. A created instance that exists
    then fails its ``INSERT``: an ``IntegrityError``, to be answered by writing with the read too.
    """
    direct = direct and supports_direct(connection.dialect)
    postgres = connection.dialect.name == "postgresql"
    groups = [change.members() for change in changes]
    as_known = None if known is None or postgres else known.rows_for(groups)
    if as_known is None:
        stored = _read_stored(connection, groups, direct=direct, creations=careful or not postgres)
    else:
        stored = Stored(dict(as_known), {})  # ``accept`` moves it on; ``as_known`` stays the rows before
    rows = Rows(narrow=not postgres)
    outcomes = [accept(group, stored, rows) for group in groups]
    if rows.created and postgres and careful:
        _insert_new_instances(connection, rows.created, groups, outcomes)
        rows.created = []
    if as_known is not None:
        for values in (*rows.updated, *rows.kept_status):
            values["k_revision"], values["k_owner"], values["k_expires"] = as_known[values["b_id"]]
    rows.write(connection, direct=direct, checked=as_known is not None)
    if seen is not None:
        seen.update(stored.instances)
    return outcomes


def _read_stored(
    connection: Connection, groups: list[list[InstanceChange]], *, direct: bool, creations: bool
) -> Stored:
    """The locking read of every instance (``creations``: created ones too) and closed task the batch touches."""
    locking = connection.dialect.name == "postgresql"
    ids = list(
        {member.instance.id for group in groups for member in group if creations or member.expected_revision != -1}
    )
    found = _rows(connection, _INSTANCE_ROWS_LOCKED if locking else _INSTANCE_ROWS, ids, direct=direct) if ids else ()
    instances = {row[0]: (row[1], row[2], row[3]) for row in found}
    task_ids = [closure.task_id for group in groups for member in group for closure in member.closed_tasks]
    tasks: dict[Any, StoredTask] = {}
    if task_ids:
        found = _rows(connection, _TASK_ROWS_LOCKED if locking else _TASK_ROWS, task_ids, direct=direct)
        tasks = {row[0]: StoredTask(row[0], TaskStatus(row[1]), row[2], row[3] or (), row[4]) for row in found}
    return Stored(instances, tasks)


def accept(group: list[InstanceChange], stored: Stored, rows: Rows) -> Outcome:
    """Check every member of a commit; if none is refused, add the rows of all of them (and update ``stored``)."""
    closing: dict[Any, StoredTask] = {}
    for member in group:
        refusal = _refusal(member, stored, closing)
        if refusal is not None:
            return refusal
    return tuple(_add(member, stored, closing, rows) for member in group)


def _refusal(change: InstanceChange, stored: Stored, closing: dict[Any, StoredTask]) -> Exception | None:
    """Why ``change`` may not be written; None if it may. ``closing``: tasks as earlier members leave them."""
    current = stored.instances.get(change.instance.id)
    return commit_refusal(change, None if current is None else current[0], stored.tasks, closing, _closed)


def _closed(task: StoredTask, closure: TaskClosure) -> StoredTask:
    """``task``'s row as ``closure`` leaves it."""
    return task._replace(status=closure.status, claimed_by=closure.claim_after(task.claimed_by))


def _add(change: InstanceChange, stored: Stored, closing: dict[Any, StoredTask], rows: Rows) -> bool:
    """Add the rows of an accepted ``change``; True if its committer holds the lease afterwards."""
    instance = change.instance
    now = change.now or datetime.now(UTC)
    values = instance_values(instance, next_run_at(instance, now))
    held = _lease(change, stored.instances.get(instance.id), now, values)
    if change.expected_revision == -1:
        values["id"] = instance.id
        values["started_by"] = instance.started_by  # written once: no later change touches it
        values["parent_id"] = instance.parent_id
        values["parent_token"] = instance.parent_token
        rows.created.append(values)
    else:
        values["b_id"] = instance.id
        _add_update(change, values, rows)
    stored.instances[instance.id] = (instance.revision, values["lease_owner"], values["lease_expires_at"])
    for closure in change.closed_tasks:
        task = stored.tasks[closure.task_id] = closing[closure.task_id]
        rows.closed.append(
            {
                "b_id": closure.task_id,
                "status": closure.status.value,
                "claimed_by": task.claimed_by,
                "completed_by": closure.completed_by,
                "completed_at": closure.completed_at,
                "submitted_data": closure.data,
            }
        )
    rows.opened.extend(task_values(task) for task in change.opened_tasks)
    rows.executions.extend(execution_values(instance.id, execution) for execution in change.executions)
    return held


def _add_update(change: InstanceChange, values: dict[str, Any], rows: Rows) -> None:
    """Add an update's ``values``; narrow, without what cannot have changed (``status_before`` holds: the
    row is written only at the revision it was read at)."""
    if not rows.narrow:
        rows.updated.append(values)
        return
    for name in _WRITTEN_ONCE:
        del values[name]
    if change.status_before is not None and change.status_before.value == values["status"]:
        del values["status"]
        rows.kept_status.append(values)
    else:
        rows.updated.append(values)


def _insert_new_instances(
    connection: Connection, created: list[dict[str, Any]], groups: list[list[InstanceChange]], outcomes: list[Outcome]
) -> None:
    """Insert the created instances, or raise ``DuplicateCreations`` naming the commits that found one existing.

    The locking read cannot lock rows that do not exist yet: two processes may both start the
    instance with one id (an idempotency key). The loser's commit alone is refused.
    """
    inserted = {row[0] for row in connection.execute(_INSERT_NEW_INSTANCES, created)}
    duplicates = {values["id"] for values in created} - inserted
    if not duplicates:
        return
    refusals = {
        index: ConcurrentUpdateError(f"instance {member.instance.id} already exists")
        for index, group in enumerate(groups)
        if not isinstance(outcomes[index], Exception)
        for member in group
        if member.expected_revision == -1 and member.instance.id in duplicates
    }
    raise DuplicateCreations(refusals)


def _rows(connection: Connection, queries: tuple[Select[Any], ...], ids: list[Any], *, direct: bool) -> Sequence[Any]:
    if len(ids) == 1:
        compiled = direct_query(queries[1], connection.dialect) if direct else None
        if compiled is not None:
            return compiled.all(connection, {"id": ids[0]})
        return connection.execute(queries[1], {"id": ids[0]}).all()
    return connection.execute(queries[0], {"ids": ids}).all()


def _lease(change: InstanceChange, stored: StoredInstance | None, now: datetime, values: dict[str, Any]) -> bool:
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


def note_committed(change: InstanceChange, held: tuple[bool, ...]) -> bool:
    """Tell ``change``'s members they were committed (history appended, ``lease_held``); the first one's lease."""
    for member, member_held in zip(change.members(), held, strict=True):
        member.instance.context.step_history.extend(member.executions)
        member.lease_held = member_held
    return held[0]
