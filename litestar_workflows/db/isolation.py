"""A change the database refuses fails alone: the rest of its group is written without it.

Group commit puts many callers' changes into one transaction, so one change the database
refuses (a value it cannot hold, a constraint, a bug in how it is written) would fail every
other change of the group. When a group's transaction fails for a reason that may lie in one of
its changes, the group is split in two halves written one after the other, and so on, until
every change that can be written is committed and each refused one was tried alone: its caller
alone gets a :class:`ChangeRefusedError`. With *k* refused changes among *n*, that costs about
2·k·log2(n) more transactions, and none at all while nothing is refused.

A database that cannot be reached, or is locked, refuses everyone alike: then the group fails
as one, at once, instead of being split into ever smaller groups that all fail the same way.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, StatementError

from litestar_workflows.core.exceptions import ChangeRefusedError
from litestar_workflows.db.sqlite_threads import DatabaseBusy
from litestar_workflows.db.writer import Outcome
from litestar_workflows.engine.persistence import InstanceChange

__all__ = ("is_outage", "refusal", "write_isolated")

logger = logging.getLogger("litestar_workflows.db")

Write = Callable[[list[InstanceChange]], Awaitable[list[Outcome]]]
"""Writes changes in one transaction: one outcome per change, or raises if the transaction failed."""

_OUTAGES = (
    OperationalError,  # connection lost, database locked, disk full, deadlock: not one change's fault
    InterfaceError,
    sqlite3.OperationalError,  # the direct pysqlite path raises the driver's own errors
    sqlite3.InterfaceError,
    DatabaseBusy,
    OSError,  # connection refused or reset, timeouts
)


_PASSING_SQLSTATES = frozenset(("08", "40", "53", "55", "57", "58"))
"""SQLSTATE classes of failures that are nobody's change: connection, transaction rollback (deadlock,
serialization), insufficient resources, lock not available, operator intervention, system error."""


def is_outage(exc: BaseException) -> bool:
    """True if ``exc`` says the database failed as a whole (or for a moment), not that it refused a change."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in _PASSING_SQLSTATES:
            return True
    return isinstance(exc, _OUTAGES)


def _reason(exc: Exception) -> str:
    """The database's own words (the driver's message, without the statement and its parameters)."""
    source: BaseException = exc
    if isinstance(exc, StatementError) and exc.orig is not None:
        source = exc.orig
    lines = str(source).strip().splitlines()
    text = lines[0] if lines else type(source).__name__
    return text if len(text) <= 300 else text[:297] + "..."


async def write_isolated(write: Write, changes: list[InstanceChange]) -> list[Outcome]:
    """``write(changes)``; if it fails because of some of them, those fail alone and the others are written.

    Each outcome is what ``write`` gives for that change, or a ``ChangeRefusedError`` for a change
    the database refused when it was written alone. An outage is raised (it would fail every change).
    Order is kept: a change is never written before one queued ahead of it.
    """
    try:
        return await write(changes)
    except Exception as exc:
        if is_outage(exc):
            raise
        if len(changes) == 1:
            return [refusal(changes[0], exc)]
        logger.warning("a group of %d changes failed (%s); writing its halves apart", len(changes), type(exc).__name__)
    middle = len(changes) // 2
    first = await write_isolated(write, changes[:middle])
    return [*first, *await write_isolated(write, changes[middle:])]


def refusal(change: InstanceChange, exc: Exception) -> ChangeRefusedError:
    """The error for ``change``'s caller when the database refused it, written alone, with ``exc`` (logged)."""
    logger.error(
        "the database refused the change of instance %s (from revision %d)",
        change.instance.id,
        change.expected_revision,
        exc_info=exc,
    )
    refused = ChangeRefusedError(f"the database refused to store instance {change.instance.id}: {_reason(exc)}")
    refused.__cause__ = exc
    return refused
