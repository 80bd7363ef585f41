"""Who holds an open task (claim, release, reassign), changed in SQL under the row's lock."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection

from litestar_workflows.core.exceptions import TaskNotFoundError
from litestar_workflows.core.models import HumanTaskData
from litestar_workflows.core.task_checks import TaskActor, holder_change_refusal
from litestar_workflows.db.codec import task_from_row
from litestar_workflows.db.models import HumanTaskModel

__all__ = ("update_open_task",)

_TASKS = cast("Table", HumanTaskModel.__table__)


def update_open_task(
    connection: Connection,
    task_id: UUID,
    values: dict[str, Any],
    if_claimable_by: str | None,
    actor: TaskActor | None,
) -> HumanTaskData:
    """Read the task locked, check the change (``holder_change_refusal``), write ``values``; the task as changed.

    Runs in a write transaction: the row is read ``FOR UPDATE`` on PostgreSQL, and on SQLite the
    transaction began IMMEDIATE in the writer thread, holding the write lock. So concurrent
    claims queue behind each other and each one's conditions are checked against the row as the
    one before left it: no read-then-write race, and the permission rule is the core function.
    """
    query = select(_TASKS).where(_TASKS.c.id == task_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        msg = f"task {task_id} not found"
        raise TaskNotFoundError(msg)
    stored = task_from_row(row)
    refusal = holder_change_refusal(stored, actor, if_claimable_by)
    if refusal is not None:
        raise refusal
    if not values:
        return stored
    statement = update(_TASKS).where(_TASKS.c.id == task_id).values(**values).returning(*_TASKS.c)
    return task_from_row(connection.execute(statement).one())
