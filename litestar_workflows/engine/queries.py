"""What callers ask the persistence for when they list: instances and tasks, filtered and paged.

Apart from ``engine.persistence`` (which re-exports them) so that the commit contract stays
one short module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from litestar_workflows.core.access import InstanceScope
from litestar_workflows.core.types import TaskStatus, WorkflowStatus

__all__ = ("UNSET", "InstanceQuery", "TaskQuery")


class _Unset:
    """Marks an argument that was not given (None is a meaningful value: "nobody")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclass(slots=True)
class InstanceQuery:
    """Filters and a page for listing instances (newest first).

    ``scope`` keeps only the instances a caller may see (``core.access``; None: all of them),
    evaluated where the filtering happens, so pages and totals hold visible instances only.
    """

    workflow_name: str | None = None
    status: WorkflowStatus | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    started_by: str | _Unset | None = UNSET
    """Only instances started by this user (None: started without a recorded starter)."""
    scope: InstanceScope | None = None
    limit: int = 50
    offset: int = 0


@dataclass(slots=True)
class TaskQuery:
    """Filters and a page for listing tasks (oldest first).

    ``visible_to`` restricts the result to tasks a user may act on: assigned to them, offered to
    one of their groups, or neither assigned nor offered to anyone. ``assigned_or_claimed_by``
    keeps the tasks assigned to a user or claimed by them (the API's ``mine=true``).
    """

    status: TaskStatus | None = None
    assignee: str | None = None
    assigned_or_claimed_by: str | None = None
    candidate_group: str | None = None
    workflow_name: str | None = None
    instance_id: UUID | None = None
    visible_to: tuple[str, frozenset[str]] | None = None
    limit: int = 50
    offset: int = 0
