"""Record who started each instance: ``workflow_instance.started_by``.

Revision ID: lsw_0002
Revises: lsw_0001
Create Date: 2026-12-03

The API's authorization policy shows an instance to its starter and lets them cancel it. The
column is nullable: instances that exist before the upgrade get NULL (no recorded starter), which
the default policy treats like an instance started anonymously (admins, and people who may act
on one of its tasks, still see it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "lsw_0002"
down_revision: str | Sequence[str] | None = "lsw_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("workflow_instance", sa.Column("started_by", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_workflow_instance_started_by"), "workflow_instance", ["started_by"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_workflow_instance_started_by"), table_name="workflow_instance")
    # A plain DROP COLUMN (SQLite 3.35 or newer), not batch mode: rebuilding the table on SQLite
    # would drop the old one, and with foreign keys on that deletes every task and step row with it.
    op.drop_column("workflow_instance", "started_by")
