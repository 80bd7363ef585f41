"""The whole schema in one file: definitions, instances, step executions, human tasks.

Tables are prefixed ``workflow_`` so they sit beside a host app's own tables. JSON columns are
JSONB on PostgreSQL and JSON on SQLite (advanced-alchemy's ``JsonB``); context values that are
not JSON are stored tagged (see ``core.values``) and come back as the same type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import BigIntBase, UUIDAuditBase, UUIDBase
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ("HumanTaskModel", "StepExecutionModel", "WorkflowDefinitionModel", "WorkflowInstanceModel")


class WorkflowDefinitionModel(UUIDAuditBase):
    """One registered version of a workflow, with its graph (for the API and for audits)."""

    __tablename__ = "workflow_definition"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_workflow_definition_name_version"),)

    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text, default="")
    graph: Mapped[dict[str, Any]] = mapped_column(JsonB)


class WorkflowInstanceModel(UUIDBase):
    """An instance and its whole execution state (tokens, branch data), plus its lease."""

    __tablename__ = "workflow_instance"
    __table_args__ = (
        Index("ix_workflow_instance_status_next_run_at", "status", "next_run_at"),
        Index("ix_workflow_instance_workflow_status", "workflow_name", "status"),
        Index("ix_workflow_instance_started_at", "started_at"),
        Index("ix_workflow_instance_started_by", "started_by"),
        Index(
            "ix_workflow_instance_parent_id",
            "parent_id",
            sqlite_where=text("parent_id IS NOT NULL"),
            postgresql_where=text("parent_id IS NOT NULL"),
        ),
    )

    workflow_name: Mapped[str] = mapped_column(String(200))
    workflow_version: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16))
    current_step: Mapped[str | None] = mapped_column(String(200))
    context_step: Mapped[str] = mapped_column(String(200))
    active_steps: Mapped[list[str]] = mapped_column(JsonB)
    data: Mapped[dict[str, Any]] = mapped_column(JsonB)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JsonB)
    tokens: Mapped[list[dict[str, Any]]] = mapped_column(JsonB)
    ended_branches: Mapped[list[dict[str, Any]]] = mapped_column(JsonB)
    revision: Mapped[int] = mapped_column(Integer)
    next_token: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(String(200))
    tenant_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    next_run_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    """Earliest time a token may run; NULL when nothing is runnable (waiting or finished)."""
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    started_by: Mapped[str | None] = mapped_column(String(200))
    """Who started the instance (written once, at the start; ``user_id`` is the context's last actor)."""
    parent_id: Mapped[UUID | None] = mapped_column(GUID)
    """The instance that started this one as a sub-workflow (written once; revision ``lsw_0004_parent``).

    No foreign key: a parent and the child it starts are created in one transaction, in no set order."""
    parent_token: Mapped[str | None] = mapped_column(String(32))
    """The parent's token that waits for this instance (written once)."""


class StepExecutionModel(BigIntBase):
    """One recorded run of a step; the big-integer id orders an instance's history exactly."""

    __tablename__ = "workflow_step_execution"
    __table_args__ = (Index("ix_workflow_step_execution_instance", "instance_id", "id"),)

    instance_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("workflow_instance.id", ondelete="CASCADE"))
    step_name: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    result: Mapped[Any | None] = mapped_column(JsonB)
    error: Mapped[str | None] = mapped_column(Text)
    input_data: Mapped[dict[str, Any] | None] = mapped_column(JsonB)
    output_data: Mapped[dict[str, Any] | None] = mapped_column(JsonB)
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    completed_by: Mapped[str | None] = mapped_column(String(200))
    traceback: Mapped[str | None] = mapped_column(Text)
    """The formatted traceback of a failed attempt (added by revision ``lsw_0003_step_traceback``)."""


class HumanTaskModel(UUIDBase):
    """A task for a person; ``groups_text`` (",a,b,") lets SQL filter by candidate group portably."""

    __tablename__ = "workflow_human_task"
    __table_args__ = (
        Index("ix_workflow_human_task_status_assignee", "status", "assignee"),
        Index("ix_workflow_human_task_instance", "instance_id"),
        Index(
            "ix_workflow_human_task_due_at",
            "due_at",
            sqlite_where=text("due_at IS NOT NULL"),
            postgresql_where=text("due_at IS NOT NULL"),
        ),
    )

    instance_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("workflow_instance.id", ondelete="CASCADE"))
    workflow_name: Mapped[str] = mapped_column(String(200))
    step_name: Mapped[str] = mapped_column(String(200))
    token_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    form_schema: Mapped[dict[str, Any] | None] = mapped_column(JsonB)
    assignee: Mapped[str | None] = mapped_column(String(200))
    candidate_groups: Mapped[list[str]] = mapped_column(JsonB)
    groups_text: Mapped[str] = mapped_column(String(2000), default="")
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    completed_by: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    submitted_data: Mapped[dict[str, Any] | None] = mapped_column(JsonB)
