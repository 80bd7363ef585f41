"""Link sub-workflow instances to their parent: ``workflow_instance.parent_id`` and ``parent_token``.

Revision ID: lsw_0004_parent
Revises: lsw_0003_step_traceback
Create Date: 2026-12-06

Both columns are nullable (existing instances are top-level instances: NULL). ``parent_id`` is
indexed, as an instance's children are found by it. There is no foreign key: a parent and the
child it starts are written in one transaction, in no set order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "lsw_0004_parent"
down_revision: str | Sequence[str] | None = "lsw_0003_step_traceback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("workflow_instance", sa.Column("parent_id", GUID(length=16), nullable=True))
    op.add_column("workflow_instance", sa.Column("parent_token", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_workflow_instance_parent_id"), "workflow_instance", ["parent_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_workflow_instance_parent_id"), table_name="workflow_instance")
    # Plain DROP COLUMNs (SQLite 3.35 or newer), not batch mode: rebuilding the table on SQLite
    # would drop the old one, and with foreign keys on that deletes every task and step row with it.
    op.drop_column("workflow_instance", "parent_token")
    op.drop_column("workflow_instance", "parent_id")
