"""Create the litestar-workflows tables.

Revision ID: lsw_0001
Revises:
Create Date: 2025-11-25

Written by hand against the plain Alembic API, so it does not depend on a host app's
``script.py.mako``. It mirrors ``litestar_workflows.db.models`` as compiled by SQLAlchemy, with the
names advanced-alchemy's naming convention gives (``pk_<table>``,
``fk_<table>_<column>_<referred table>``) and the index names the models declare.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "lsw_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("litestar_workflows",)
depends_on: str | Sequence[str] | None = None

STEP_EXECUTION_ID_SEQUENCE = "workflow_step_execution_id_seq"
"""advanced-alchemy's ``BigIntBase`` draws ids from this sequence where the dialect has sequences."""


def _json() -> sa.types.TypeEngine[object]:
    """advanced-alchemy's ``JsonB``, frozen: JSON everywhere, JSONB on PostgreSQL."""
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _guid() -> GUID:
    return GUID(length=16)


def _timestamp() -> DateTimeUTC:
    return DateTimeUTC(timezone=True)


def _big_int_id() -> sa.types.TypeEngine[int]:
    """advanced-alchemy's ``BigIntIdentity``: BIGINT, but INTEGER on SQLite so it aliases the rowid."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _sentinel() -> sa.Column[int]:
    """advanced-alchemy's ``sa_orm_sentinel`` column (SQLAlchemy's insertmanyvalues sentinel)."""
    return sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True)


def _supports_sequences() -> bool:
    """True where the dialect has sequences (PostgreSQL); SQLite has none and keys off the rowid."""
    return bool(op.get_context().dialect.supports_sequences)


def upgrade() -> None:
    op.create_table(
        "workflow_definition",
        sa.Column("id", _guid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("graph", _json(), nullable=False),
        _sentinel(),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_definition")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_workflow_definition_name_version")),
    )

    op.create_table(
        "workflow_instance",
        sa.Column("id", _guid(), nullable=False),
        sa.Column("workflow_name", sa.String(length=200), nullable=False),
        sa.Column("workflow_version", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_step", sa.String(length=200), nullable=True),
        sa.Column("context_step", sa.String(length=200), nullable=False),
        sa.Column("active_steps", _json(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("tokens", _json(), nullable=False),
        sa.Column("ended_branches", _json(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("next_token", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("tenant_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("started_at", _timestamp(), nullable=True),
        sa.Column("completed_at", _timestamp(), nullable=True),
        sa.Column("next_run_at", _timestamp(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", _timestamp(), nullable=True),
        _sentinel(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_instance")),
    )
    op.create_index(op.f("ix_workflow_instance_status"), "workflow_instance", ["status"], unique=False)
    op.create_index(
        op.f("ix_workflow_instance_workflow_status"), "workflow_instance", ["workflow_name", "status"], unique=False
    )
    op.create_index(op.f("ix_workflow_instance_started_at"), "workflow_instance", ["started_at"], unique=False)
    op.create_index(op.f("ix_workflow_instance_next_run_at"), "workflow_instance", ["next_run_at"], unique=False)
    op.create_index(
        op.f("ix_workflow_instance_lease_expires_at"), "workflow_instance", ["lease_expires_at"], unique=False
    )

    # Like metadata.create_all: a plain BIGINT key fed by its own sequence (not a BIGSERIAL) where the
    # dialect has sequences. op.create_table does not create a column's Sequence, so do it here.
    if _supports_sequences():
        op.execute(sa.schema.CreateSequence(sa.Sequence(STEP_EXECUTION_ID_SEQUENCE)))
    op.create_table(
        "workflow_step_execution",
        sa.Column("id", _big_int_id(), sa.Sequence(STEP_EXECUTION_ID_SEQUENCE), nullable=False),
        sa.Column("instance_id", _guid(), nullable=False),
        sa.Column("step_name", sa.String(length=200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", _json(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("input_data", _json(), nullable=True),
        sa.Column("output_data", _json(), nullable=True),
        sa.Column("started_at", _timestamp(), nullable=True),
        sa.Column("completed_at", _timestamp(), nullable=True),
        sa.Column("completed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["workflow_instance.id"],
            name=op.f("fk_workflow_step_execution_instance_id_workflow_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_step_execution")),
    )
    op.create_index(
        op.f("ix_workflow_step_execution_instance"), "workflow_step_execution", ["instance_id", "id"], unique=False
    )

    op.create_table(
        "workflow_human_task",
        sa.Column("id", _guid(), nullable=False),
        sa.Column("instance_id", _guid(), nullable=False),
        sa.Column("workflow_name", sa.String(length=200), nullable=False),
        sa.Column("step_name", sa.String(length=200), nullable=False),
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("form_schema", _json(), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("candidate_groups", _json(), nullable=False),
        sa.Column("groups_text", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=True),
        sa.Column("due_at", _timestamp(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("completed_by", sa.String(length=200), nullable=True),
        sa.Column("completed_at", _timestamp(), nullable=True),
        sa.Column("submitted_data", _json(), nullable=True),
        _sentinel(),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["workflow_instance.id"],
            name=op.f("fk_workflow_human_task_instance_id_workflow_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_human_task")),
    )
    op.create_index(
        op.f("ix_workflow_human_task_status_assignee"), "workflow_human_task", ["status", "assignee"], unique=False
    )
    op.create_index(op.f("ix_workflow_human_task_instance"), "workflow_human_task", ["instance_id"], unique=False)
    op.create_index(op.f("ix_workflow_human_task_due_at"), "workflow_human_task", ["due_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_workflow_human_task_due_at"), table_name="workflow_human_task")
    op.drop_index(op.f("ix_workflow_human_task_instance"), table_name="workflow_human_task")
    op.drop_index(op.f("ix_workflow_human_task_status_assignee"), table_name="workflow_human_task")
    op.drop_table("workflow_human_task")

    op.drop_index(op.f("ix_workflow_step_execution_instance"), table_name="workflow_step_execution")
    op.drop_table("workflow_step_execution")
    if _supports_sequences():
        op.execute(sa.schema.DropSequence(sa.Sequence(STEP_EXECUTION_ID_SEQUENCE)))

    op.drop_index(op.f("ix_workflow_instance_lease_expires_at"), table_name="workflow_instance")
    op.drop_index(op.f("ix_workflow_instance_next_run_at"), table_name="workflow_instance")
    op.drop_index(op.f("ix_workflow_instance_started_at"), table_name="workflow_instance")
    op.drop_index(op.f("ix_workflow_instance_workflow_status"), table_name="workflow_instance")
    op.drop_index(op.f("ix_workflow_instance_status"), table_name="workflow_instance")
    op.drop_table("workflow_instance")

    op.drop_table("workflow_definition")
