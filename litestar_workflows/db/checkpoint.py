"""A transactional step's transaction: its session, and the commit of the step's change in it."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from litestar_workflows.db.isolation import is_outage, refusal
from litestar_workflows.db.writer import DuplicateCreations, Outcome, note_committed, write_changes
from litestar_workflows.engine.persistence import InstanceChange

__all__ = ("SQLCheckpoint",)


class SQLCheckpoint:
    """The open transaction a transactional step writes its own rows in, then its change.

    ``committed`` tells the persistence whether to roll the transaction back when the step's
    block ends.
    """

    __slots__ = ("committed", "session")

    def __init__(self, session: AsyncSession) -> None:
        self.session: Any = session
        self.committed = False

    async def commit(self, change: InstanceChange) -> bool:
        """Write ``change`` (and its linked changes) in the step's transaction and commit both.

        A precondition that fails raises its refusal (a concurrent update): nothing was written.
        A write the database refuses, the step's own rows included (their constraints are checked
        at this commit), raises ``ChangeRefusedError``: the step's attempt fails, its transaction
        rolls back. An outage is raised as such.
        """
        change.members()  # ``ValueError`` before anything is written
        try:
            connection = await self.session.connection()
            # Careful: a duplicate creation must refuse this commit alone; the step's work cannot be redone.
            outcomes: list[Outcome] = await connection.run_sync(
                functools.partial(write_changes, careful=True), [change]
            )
            outcome = outcomes[0]
            if not isinstance(outcome, Exception):
                await self.session.commit()
        except DuplicateCreations as duplicates:
            raise duplicates.refusals[0] from None  # created meanwhile by another process
        except Exception as exc:
            if is_outage(exc):
                raise
            raise refusal(change, exc) from exc
        if isinstance(outcome, Exception):
            raise outcome
        self.committed = True
        return note_committed(change, outcome)
