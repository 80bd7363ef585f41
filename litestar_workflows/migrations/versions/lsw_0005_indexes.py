"""Fewer index writes per commit: one index for due work, none for lease expiry, partial ones for rare links.

Revision ID: lsw_0005_indexes
Revises: lsw_0004_parent
Create Date: 2026-12-06

Every commit of a running instance changes its due time and lease; each changed column that an
index covers costs that index an entry written (and, on SQLite, whole pages in the write-ahead
log). So:

- ``ix_workflow_instance_status`` and ``ix_workflow_instance_next_run_at`` become one index on
  ``(status, next_run_at)``: the query that finds due work filters on both and orders by the
  second, and a status alone is its prefix;
- ``ix_workflow_instance_lease_expires_at`` goes: no query looks an instance up by its lease expiry
  alone (an expired lease is found among the due instances);
- ``ix_workflow_instance_parent_id`` and ``ix_workflow_human_task_due_at`` keep only the rows that
  have a value (most instances have no parent, most tasks no due time); a lookup by a value still
  uses them.

Only indexes change: no row is touched. Creating an index reads the whole table, so on a large
PostgreSQL table run this while the app is quiet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "lsw_0005_indexes"
down_revision: str | Sequence[str] | None = "lsw_0004_parent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INSTANCES = "workflow_instance"
_TASKS = "workflow_human_task"


def _create_partial_index(name: str, table: str, column: str) -> None:
    """An index of ``column`` over the rows where it is set, on both databases."""
    condition = sa.text(f"{column} IS NOT NULL")
    op.create_index(name, table, [column], sqlite_where=condition, postgresql_where=condition)


def upgrade() -> None:
    op.drop_index(op.f("ix_workflow_instance_status"), table_name=_INSTANCES)
    op.drop_index(op.f("ix_workflow_instance_next_run_at"), table_name=_INSTANCES)
    op.drop_index(op.f("ix_workflow_instance_lease_expires_at"), table_name=_INSTANCES)
    op.create_index(op.f("ix_workflow_instance_status_next_run_at"), _INSTANCES, ["status", "next_run_at"])
    op.drop_index(op.f("ix_workflow_instance_parent_id"), table_name=_INSTANCES)
    _create_partial_index(op.f("ix_workflow_instance_parent_id"), _INSTANCES, "parent_id")
    op.drop_index(op.f("ix_workflow_human_task_due_at"), table_name=_TASKS)
    _create_partial_index(op.f("ix_workflow_human_task_due_at"), _TASKS, "due_at")


def downgrade() -> None:
    op.drop_index(op.f("ix_workflow_human_task_due_at"), table_name=_TASKS)
    op.create_index(op.f("ix_workflow_human_task_due_at"), _TASKS, ["due_at"])
    op.drop_index(op.f("ix_workflow_instance_parent_id"), table_name=_INSTANCES)
    op.create_index(op.f("ix_workflow_instance_parent_id"), _INSTANCES, ["parent_id"])
    op.drop_index(op.f("ix_workflow_instance_status_next_run_at"), table_name=_INSTANCES)
    op.create_index(op.f("ix_workflow_instance_lease_expires_at"), _INSTANCES, ["lease_expires_at"])
    op.create_index(op.f("ix_workflow_instance_next_run_at"), _INSTANCES, ["next_run_at"])
    op.create_index(op.f("ix_workflow_instance_status"), _INSTANCES, ["status"])
