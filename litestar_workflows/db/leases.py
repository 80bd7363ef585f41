"""Leases in SQL: which engine advances an instance, as conditional updates of its row.

Synchronous functions on a ``Connection`` in a write transaction (the SQLite writer thread, or
``run_sync`` elsewhere). A lease is free, expired (``lease_expires_at`` before the caller's
``now``) or held; the rule is the one the in-memory store applies (``engine.memory``), checked
by the contract suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import ColumnElement, Table, and_, false, or_, select, update
from sqlalchemy.engine import Connection

from litestar_workflows.core.types import WorkflowStatus
from litestar_workflows.db.models import WorkflowInstanceModel

__all__ = ("acquire_lease", "claim_runnable", "release_leases", "renew_leases")

_INSTANCES = cast("Table", WorkflowInstanceModel.__table__)
_COLUMNS = _INSTANCES.c


def _takeable(owner: str, now: datetime) -> ColumnElement[bool]:
    """The lease is free, ``owner``'s already, or expired at ``now``."""
    return or_(_COLUMNS.lease_owner.is_(None), _COLUMNS.lease_owner == owner, _COLUMNS.lease_expires_at < now)


def acquire_lease(connection: Connection, instance_id: UUID, owner: str, now: datetime, until: datetime) -> bool:
    """Take one instance's lease if free, expired or already ``owner``'s; True if held."""
    result = connection.execute(
        update(_INSTANCES)
        .where(_COLUMNS.id == instance_id, _takeable(owner, now))
        .values(lease_owner=owner, lease_expires_at=until)
    )
    return bool(result.rowcount)


def renew_leases(connection: Connection, owner: str, instance_ids: Sequence[UUID], until: datetime) -> None:
    """Extend ``owner``'s leases on these instances."""
    connection.execute(
        update(_INSTANCES)
        .where(_COLUMNS.lease_owner == owner, _COLUMNS.id.in_(list(instance_ids)))
        .values(lease_expires_at=until)
    )


def release_leases(connection: Connection, owner: str, instance_ids: Sequence[UUID] | None) -> None:
    """Give up ``owner``'s leases (all of them when ``instance_ids`` is None)."""
    condition: ColumnElement[bool] = _COLUMNS.lease_owner == owner
    if instance_ids is not None:
        condition = and_(condition, _COLUMNS.id.in_(list(instance_ids)) if instance_ids else false())
    connection.execute(update(_INSTANCES).where(condition).values(lease_owner=None, lease_expires_at=None))


def claim_runnable(connection: Connection, owner: str, now: datetime, until: datetime, limit: int) -> list[UUID]:
    """Lease due, running instances whose lease is takeable, earliest due first; concurrent claimers never share one.

    On PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``: a concurrent claimer
    skips them instead of waiting. SQLite's write transaction serialises claimers anyway.
    """
    candidates = (
        select(_COLUMNS.id)
        .where(_COLUMNS.status == WorkflowStatus.RUNNING.value, _COLUMNS.next_run_at <= now, _takeable(owner, now))
        .order_by(_COLUMNS.next_run_at)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(_INSTANCES)
        .where(_COLUMNS.id.in_(candidates.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=until)
        .returning(_COLUMNS.id)
    )
    return [row[0] for row in connection.execute(statement).all()]
