"""Keep the traceback of each failed step attempt.

Revision ID: lsw_0003_step_traceback
Revises: lsw_0002
Create Date: 2026-12-03

Adds the nullable text column ``workflow_step_execution.traceback``; existing rows keep NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "lsw_0003_step_traceback"
down_revision: str | Sequence[str] | None = "lsw_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("workflow_step_execution", sa.Column("traceback", sa.Text(), nullable=True))


def downgrade() -> None:
    # A batch operation: SQLite drops a column by copying the table.
    with op.batch_alter_table("workflow_step_execution") as batch:
        batch.drop_column("traceback")
