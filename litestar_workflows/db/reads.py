"""Reading the SQL store: the engine's reads as synchronous functions, the API's paged queries.

The synchronous functions take a ``Connection`` and run in a reader thread on a SQLite file, or
through ``AsyncConnection.run_sync`` elsewhere: one hand-off per read, however many statements.
The paged queries go through advanced-alchemy's repositories on an ``AsyncSession``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from advanced_alchemy.filters import LimitOffset, OrderBy
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from litestar_workflows.core.exceptions import ConcurrentUpdateError
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.types import TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.db.codec import execution_from_row, instance_from_row, task_from_row
from litestar_workflows.db.filters import instance_in_scope_clause, offered_to_clause, task_visible_to_clause
from litestar_workflows.db.models import HumanTaskModel, StepExecutionModel, WorkflowInstanceModel
from litestar_workflows.engine.queries import InstanceQuery, TaskQuery, _Unset

__all__ = (
    "due_timers",
    "get_task",
    "list_instances",
    "list_tasks",
    "load_instance",
    "ping",
    "query_instances",
    "query_tasks",
    "task_with_instance",
)

_INSTANCES = cast("Table", WorkflowInstanceModel.__table__)
_EXECUTIONS = cast("Table", StepExecutionModel.__table__)
_TASKS = cast("Table", HumanTaskModel.__table__)


class _Row:
    """Attribute access over a row mapping whose ``metadata`` column is exposed as ``meta``."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: Any) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        if name == "meta":
            return self._mapping["metadata"]
        return self._mapping[name]


def ping(connection: Connection) -> None:
    """A trivial query: raises when the database cannot be reached."""
    connection.execute(select(1)).scalar()


# The history with the revision its instance has in the same snapshot (a subquery run once, not per row).
_HISTORY = (
    select(
        _EXECUTIONS,
        select(_INSTANCES.c.revision)
        .where(_INSTANCES.c.id == bindparam("instance_id"))
        .scalar_subquery()
        .label("lsw_now"),
    )
    .where(_EXECUTIONS.c.instance_id == bindparam("instance_id"))
    .order_by(_EXECUTIONS.c.id)
)
_TORN_READS_TOLERATED = 100


def load_instance(connection: Connection, instance_id: UUID) -> WorkflowInstanceData | None:
    """The instance with its step history in recorded order, or None; both as of one commit.

    The row and its history are two statements. Outside a snapshot (PostgreSQL reads without a
    transaction, or under READ COMMITTED) a commit may land between them: the history would then
    hold steps the row does not know yet. The history's statement reads the revision the instance
    has in its own snapshot, and a read that straddled a commit is done again. (A history that is
    empty is never newer than the row: steps are only ever added.)
    """
    for _ in range(_TORN_READS_TOLERATED):
        row = connection.execute(select(_INSTANCES).where(_INSTANCES.c.id == instance_id)).first()
        if row is None:
            return None
        executions = connection.execute(_HISTORY, {"instance_id": instance_id}).all()
        if not executions or executions[0].lsw_now == row.revision:
            return instance_from_row(_Row(row._mapping), [execution_from_row(execution) for execution in executions])
    msg = f"instance {instance_id} changed during each of {_TORN_READS_TOLERATED} reads"
    raise ConcurrentUpdateError(msg)


def get_task(connection: Connection, task_id: UUID) -> HumanTaskData | None:
    """One task, or None."""
    row = connection.execute(select(_TASKS).where(_TASKS.c.id == task_id)).first()
    return None if row is None else task_from_row(row)


def task_with_instance(
    connection: Connection, task_id: UUID
) -> tuple[HumanTaskData, WorkflowInstanceData | None] | None:
    """One task and its instance (see :func:`load_instance`), or None if no such task."""
    task = get_task(connection, task_id)
    return None if task is None else (task, load_instance(connection, task.instance_id))


def list_tasks(connection: Connection, instance_id: UUID | None, status: TaskStatus | None) -> list[HumanTaskData]:
    """Tasks in creation order, optionally of one instance and/or in one status."""
    statement = select(_TASKS).order_by(_TASKS.c.created_at, _TASKS.c.id)
    if instance_id is not None:
        statement = statement.where(_TASKS.c.instance_id == instance_id)
    if status is not None:
        statement = statement.where(_TASKS.c.status == status.value)
    return [task_from_row(row) for row in connection.execute(statement)]


def list_instances(
    connection: Connection, workflow_name: str | None, status: WorkflowStatus | None, parent_id: UUID | None = None
) -> list[WorkflowInstanceData]:
    """Instances, oldest first, without their step history (load one for it)."""
    statement = select(_INSTANCES).order_by(_INSTANCES.c.started_at, _INSTANCES.c.id)
    if parent_id is not None:
        statement = statement.where(_INSTANCES.c.parent_id == parent_id)
    if workflow_name is not None:
        statement = statement.where(_INSTANCES.c.workflow_name == workflow_name)
    if status is not None:
        statement = statement.where(_INSTANCES.c.status == status.value)
    return [instance_from_row(_Row(row._mapping), []) for row in connection.execute(statement)]


def due_timers(connection: Connection, until: datetime) -> list[tuple[UUID, str, datetime]]:
    """READY tokens with a stored time not after ``until`` (from instances due by then), earliest first."""
    columns = _INSTANCES.c
    statement = select(columns.id, columns.tokens).where(
        columns.status == WorkflowStatus.RUNNING.value, columns.next_run_at <= until
    )
    due: list[tuple[UUID, str, datetime]] = []
    for instance_id, tokens in connection.execute(statement):
        for token in tokens:
            if token["status"] == TokenStatus.READY.value and token["not_before"] is not None:
                at = datetime.fromisoformat(token["not_before"])
                if at <= until:
                    due.append((instance_id, token["id"], at))
    return sorted(due, key=lambda item: item[2])


class _InstanceRepository(SQLAlchemyAsyncRepository[WorkflowInstanceModel]):
    model_type = WorkflowInstanceModel


class _TaskRepository(SQLAlchemyAsyncRepository[HumanTaskModel]):
    model_type = HumanTaskModel


async def query_instances(session: AsyncSession, query: InstanceQuery) -> tuple[list[WorkflowInstanceData], int]:
    """One page of instances, newest first (ties: greater id first), and how many match."""
    model = WorkflowInstanceModel
    filters: list[Any] = []
    if query.workflow_name is not None:
        filters.append(model.workflow_name == query.workflow_name)
    if query.status is not None:
        filters.append(model.status == query.status.value)
    if query.started_after is not None:
        filters.append(model.started_at > query.started_after)
    if query.started_before is not None:
        filters.append(model.started_at < query.started_before)
    if not isinstance(query.started_by, _Unset):
        starter = query.started_by
        filters.append(model.started_by.is_(None) if starter is None else model.started_by == starter)
    if query.scope is not None:
        filters.append(instance_in_scope_clause(query.scope))
    page = (OrderBy("started_at", "desc"), OrderBy("id", "desc")), LimitOffset(query.limit, query.offset)
    rows, total = await _page_and_total(_InstanceRepository(session=session), page, filters)
    return [instance_from_row(row, []) for row in rows], total


async def query_tasks(session: AsyncSession, query: TaskQuery) -> tuple[list[HumanTaskData], int]:
    """One page of tasks, oldest first (ties: smaller id first), and how many match; ``visible_to`` in SQL."""
    model = HumanTaskModel
    filters: list[Any] = []
    if query.status is not None:
        filters.append(model.status == query.status.value)
    if query.assignee is not None:
        filters.append(model.assignee == query.assignee)
    if query.assigned_or_claimed_by is not None:
        user = query.assigned_or_claimed_by
        filters.append(or_(model.assignee == user, model.claimed_by == user))
    if query.candidate_group is not None:
        filters.append(offered_to_clause(query.candidate_group))
    if query.workflow_name is not None:
        filters.append(model.workflow_name == query.workflow_name)
    if query.instance_id is not None:
        filters.append(model.instance_id == query.instance_id)
    if query.visible_to is not None:
        filters.append(task_visible_to_clause(*query.visible_to))
    page = (OrderBy("created_at", "asc"), OrderBy("id", "asc")), LimitOffset(query.limit, query.offset)
    rows, total = await _page_and_total(_TaskRepository(session=session), page, filters)
    return [task_from_row(row) for row in rows], total


async def _page_and_total(
    repository: SQLAlchemyAsyncRepository[Any], page: tuple[tuple[OrderBy, ...], LimitOffset], filters: list[Any]
) -> tuple[Sequence[Any], int]:
    """One page of rows matching ``filters`` and how many match in all, in one query when the page has rows.

    The order ends with the id, so rows that tie on time keep one order from page to page. The
    count rides on the page's rows (a window function), so a page past the end would say 0:
    then a count of its own answers.
    """
    orders, _ = page
    rows, total = await repository.get_many_and_count(*orders, page[1], *filters)
    if not rows and page[1].offset > 0:
        total = await repository.count(*filters)
    return rows, total
