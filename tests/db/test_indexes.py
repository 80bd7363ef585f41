"""The queries that look instances up by something other than their id are answered from an index.

``lsw_0005_indexes`` merged the status and due-time indexes into one, dropped the lease-expiry
index and made the parent-link and task due-time indexes partial (rows without a value are left
out). A query that no longer found its index would scan every instance, and nothing else would
notice: finding due work would slow down as instances pile up. This asks each database's planner
for the plans of the two lookups, the due-work claim and an instance's children, on the schema as
created (the migration test checks the revisions build the same one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import create_async_engine

from litestar_workflows.core.ids import time_ordered_uuid
from litestar_workflows.db import reads
from litestar_workflows.db.leases import claim_runnable
from litestar_workflows.db.models import WorkflowInstanceModel


def _plan_of(connection: Connection, query: Callable[[Connection], Any]) -> str:
    """The planner's plan of the one statement ``query`` runs (run first, in a transaction rolled back)."""
    seen: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", remember)
    try:
        query(connection)
    finally:
        event.remove(connection, "before_cursor_execute", remember)
    (statement, parameters), *_ = seen
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return "\n".join(str(row[-1]) for row in rows)
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # tiny tables: ask whether an index *can* serve
    rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
    return "\n".join(str(row[0]) for row in rows)


def _plans(connection: Connection) -> tuple[str, str]:
    now = datetime.now(UTC)
    claim = _plan_of(connection, lambda c: claim_runnable(c, "me", now, now + timedelta(seconds=30), 10))
    children = _plan_of(connection, lambda c: reads.list_instances(c, None, None, parent_id=time_ordered_uuid()))
    return claim, children


async def _explain(url: str) -> tuple[str, str]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(WorkflowInstanceModel.metadata.create_all)
        async with engine.connect() as connection:
            plans = await connection.run_sync(_plans)
            await connection.rollback()
        return plans
    finally:
        await engine.dispose()


def test_due_work_and_children_are_found_through_their_indexes(database_url: str) -> None:
    claim, children = asyncio.run(_explain(database_url))
    assert "ix_workflow_instance_status_next_run_at" in claim, claim
    assert "ix_workflow_instance_parent_id" in children, children
