"""The instance rows as a writer last left them, so that a commit need not read them first.

A writer that is the only one writing an instance (the usual case: the engine holding its lease)
knows what the row holds after its own commit: the revision, the lease owner and its expiry, all
that the commit's checks (``writer.accept``) read. A commit decided on the known row is written
with a statement that requires the stored row to be just that; if another process, a lease
renewal or a transactional step changed it meanwhile, nothing is written and the commit takes
the path that reads (and locks) the row. Used by ``db.alone`` (PostgreSQL's one-statement
commit) and by ``db.writer`` on SQLite (a group commit without its read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from litestar_workflows.core.types import WorkflowStatus
from litestar_workflows.engine.persistence import InstanceChange

if TYPE_CHECKING:
    from litestar_workflows.db.writer import StoredInstance

__all__ = ("KnownRows",)


class KnownRows:
    """Instance rows (revision, lease owner, lease expiry) as this writer last committed or read them.

    Only for running instances, the ones whose next commit is near; the oldest are forgotten
    past ``limit``. A row known wrongly costs a round trip, never a wrong write: the statement
    checks it.
    """

    __slots__ = ("_limit", "_rows")

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._rows: dict[Any, StoredInstance] = {}

    def get(self, instance_id: Any) -> StoredInstance | None:
        """The row as last known, or None."""
        return self._rows.get(instance_id)

    def remember(self, changes: list[InstanceChange], rows: Mapping[Any, StoredInstance]) -> None:
        """After a committed transaction: the instance rows it read or wrote (``rows``) of these commits."""
        known = self._rows
        for change in changes:
            for member in change.members():
                key = member.instance.id
                row = rows.get(key)
                known.pop(key, None)
                if row is not None and member.instance.status is WorkflowStatus.RUNNING:
                    known[key] = row  # last in order: forgotten last
        while len(known) > self._limit:
            del known[next(iter(known))]

    def rows_for(self, groups: list[list[InstanceChange]]) -> dict[Any, StoredInstance] | None:
        """The rows a batch of commits (each with its members) updates, if this knows them all; else None.

        Each at the revision its commit expects, each instance once in the batch (a checked
        update compares with the row before the batch), and no task closed (task rows are not
        known). Created instances are left out: their ``INSERT`` is their check.
        """
        rows: dict[Any, StoredInstance] = {}
        created: set[Any] = set()
        for group in groups:
            for member in group:
                key = member.instance.id
                if member.closed_tasks or key in rows or key in created:
                    return None
                if member.expected_revision == -1:
                    created.add(key)
                    continue
                row = self._rows.get(key)
                if row is None or row[0] != member.expected_revision:
                    return None
                rows[key] = row
        return rows

    def forget(self, instance_id: Any) -> None:
        """The row may be other than known."""
        self._rows.pop(instance_id, None)
