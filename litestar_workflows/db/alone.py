"""PostgreSQL: a commit alone in its batch, written as one statement in one round trip.

Run one at a time, a commit's time is mostly round trips, not work: BEGIN, the locking read, one
statement per kind of row, COMMIT (five on localhost, each a wake-up of the server and of the
event loop), where one would do. So a commit that is alone in its batch (one instance, no task
closed) is written as a single statement, without BEGIN and COMMIT (a statement is atomic on
its own): a data-modifying CTE that updates (or, for a start, inserts) the instance row and
inserts the step executions and opened tasks from what that update returned.

The checks and the lease rule are not repeated here. ``writer.accept`` decides on the instance
row as this writer last committed or read it (``KnownRows``), exactly as it decides on the
locking read's row; the statement's ``WHERE`` then requires the stored row to be just that:
the same revision, lease owner and lease expiry, everything the decision read. If it is not (another
process, a lease renewal, a transactional step wrote it meanwhile), nothing at all is
written, and the batch takes the general path (``db.isolation``: locking read, decision, writes,
in a transaction), which decides on the row as it really is and raises whatever it must. A start
needs no known row: its ``INSERT`` is the check, as on the general path.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    CTE,
    Select,
    Sequence,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.engine import Connection

from litestar_workflows.db.direct import direct_query
from litestar_workflows.db.isolation import is_outage
from litestar_workflows.db.known import KnownRows
from litestar_workflows.db.writer import (
    EXECUTIONS,
    INSTANCES,
    STATE_COLUMNS,
    TASKS,
    Outcome,
    Rows,
    Stored,
    StoredInstance,
    accept,
)
from litestar_workflows.engine.persistence import InstanceChange

__all__ = ("MAX_ROWS", "fits_alone", "write_alone")

MAX_ROWS = 4
"""At most this many step executions, and as many opened tasks, in one statement (a shape is
compiled once and kept, per number of rows of each kind)."""

_EXECUTION_IDS = cast("Sequence", EXECUTIONS.c.id.default)


def fits_alone(changes: list[InstanceChange], known: KnownRows) -> bool:
    """True if ``changes`` is one commit that one statement can write (a start, or a known row's update)."""
    if len(changes) != 1:
        return False
    change = changes[0]
    if change.linked or change.closed_tasks:
        return False
    if len(change.executions) > MAX_ROWS or len(change.opened_tasks) > MAX_ROWS:
        return False
    if change.expected_revision == -1:
        return True
    row = known.get(change.instance.id)
    return row is not None and row[0] == change.expected_revision


def write_alone(connection: Connection, changes: list[InstanceChange], known: KnownRows) -> list[Outcome] | None:
    """Write the one commit of ``changes`` (``fits_alone``) with one statement, outside a transaction.

    Returns its outcome, or None when nothing was written and the general path must decide: the
    row is not as known, or the commit cannot be written (the general path then refuses it with
    the reason, as it refuses any commit). An outage is raised.
    """
    change = changes[0]
    row = None if change.expected_revision == -1 else known.get(change.instance.id)
    stored = Stored({} if row is None else {change.instance.id: row}, {})
    rows = Rows()
    try:
        outcome = accept([change], stored, rows)  # accepted: the row as known has the expected revision
        written = 0 if isinstance(outcome, Exception) else _execute(connection, rows, row, change.flush)
    except Exception as exc:
        if is_outage(exc):
            raise
        written = 0
    if not written:
        known.forget(change.instance.id)
        return None
    known.remember(changes, stored.instances)
    return [outcome]


def _execute(connection: Connection, rows: Rows, row: StoredInstance | None, flush: bool) -> int:
    """Run the statement writing ``rows`` (over ``row`` as known); 1 if it wrote them, 0 if the row was not as known."""
    compiled = direct_query(_statement(rows, flush), connection.dialect)
    assert compiled is not None  # no expanding parameters, and asyncpg only (``LoopWriter``)
    written: int = compiled.all(connection, _parameters(rows, row))[0][0]
    return written


def _parameters(rows: Rows, row: StoredInstance | None) -> dict[str, Any]:
    """The statement's parameters: the instance's values, the row as known, the child rows numbered."""
    values = dict(rows.created[0] if row is None else rows.updated[0])
    if row is not None:
        values["k_revision"], values["k_owner"], values["k_expires"] = row
    for prefix, children in (("e", rows.executions), ("t", rows.opened)):
        for number, child in enumerate(children):
            values.update((f"{prefix}{number}_{name}", value) for name, value in child.items())
    return values


_SHAPES: dict[tuple[bool, int, int, bool], Select[Any]] = {}


def _statement(rows: Rows, flush: bool) -> Select[Any]:
    """The statement for ``rows``' shape: a start or an update, with so many executions and tasks (built once).

    Its columns are the ones the codec gives values for (the same for every row of a kind).
    Unless it must be flushed (``db.flushing``), its row turns ``synchronous_commit`` off for the
    statement's own transaction (``set_config(..., true)``: nothing outlives the statement).
    """
    creating = bool(rows.created)
    shape = (creating, len(rows.executions), len(rows.opened), flush)
    query = _SHAPES.get(shape)
    if query is None:
        written = _instance_write(rows.created[0] if creating else None)
        query = select(func.count()).select_from(written)
        if not flush:
            relaxed = func.set_config(literal_column("'synchronous_commit'"), literal_column("'off'"), true())
            query = query.where(relaxed.is_not(None))
        if rows.executions:
            query = query.add_cte(_children(written, EXECUTIONS, "e", rows.executions))
        if rows.opened:
            query = query.add_cte(_children(written, TASKS, "t", rows.opened))
        _SHAPES[shape] = query
    return query


def _instance_write(created: dict[str, Any] | None) -> CTE:
    """The instance row's insert (a start: ``created``), or its update if the stored row is as known."""
    if created is not None:
        statement: Any = insert(INSTANCES).values({name: bindparam(name) for name in created})
    else:
        statement = (
            update(INSTANCES)
            .where(
                INSTANCES.c.id == bindparam("b_id"),
                INSTANCES.c.revision == bindparam("k_revision"),
                INSTANCES.c.lease_owner.is_not_distinct_from(bindparam("k_owner")),
                INSTANCES.c.lease_expires_at.is_not_distinct_from(bindparam("k_expires")),
            )
            .values({name: bindparam(name) for name in STATE_COLUMNS})
        )
    cte: CTE = statement.returning(INSTANCES.c.id).cte("written")
    return cte


def _children(written: CTE, table: Table, prefix: str, rows: list[dict[str, Any]]) -> CTE:
    """Insert ``rows`` into ``table`` (executions or tasks), once per row ``written`` returned.

    That is none when the instance's write matched no row. Executions get their ids from the
    sequence row by row, in order: ids order an instance's history.
    """
    columns = list(rows[0])
    leading: list[Any] = []
    names = list(columns)
    if table is EXECUTIONS:
        leading.append(_EXECUTION_IDS.next_value())
        names.insert(0, "id")
    selects = [
        select(
            *leading, *(bindparam(f"{prefix}{number}_{name}", type_=table.c[name].type) for name in columns)
        ).select_from(written)
        for number in range(len(rows))
    ]
    source = selects[0] if len(selects) == 1 else union_all(*selects)
    cte: CTE = insert(table).from_select(names, source, include_defaults=False).cte(table.name)
    return cte
