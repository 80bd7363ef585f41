"""A commit the database refuses fails alone: the rest of its batch is written without it.

Group commit puts many callers' commits into one transaction, so one commit the database
refuses (a value it cannot hold, a constraint, a bug in how it is written) would fail every
other commit of the batch. When a batch's transaction fails for a reason that may lie in one of
its commits, the batch is split in two halves written one after the other, and so on, until
every commit that can be written is committed and each refused one was tried alone: its caller
alone gets a :class:`ChangeRefusedError`. With *k* refused commits among *n*, that costs about
2·k·log2(n) more transactions, and none at all while nothing is refused. A commit is never
split: its linked changes stay with it.

A database that cannot be reached, or is locked, refuses everyone alike: then the batch fails
as one, at once, instead of being split into ever smaller batches that all fail the same way.

Everything here is synchronous: it runs in the SQLite writer thread, or inside
``AsyncConnection.run_sync`` on other databases, so a batch is one hand-off, however it is split.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, StatementError

from litestar_workflows.core.exceptions import ChangeRefusedError
from litestar_workflows.db.flushing import flushes, relax_in_transaction, use_flush
from litestar_workflows.db.known import KnownRows
from litestar_workflows.db.writer import DuplicateCreations, NotAsKnown, Outcome, StoredInstance, write_changes
from litestar_workflows.engine.persistence import InstanceChange

__all__ = ("commit_batch", "is_outage", "refusal", "write_in_transaction", "write_isolated")

logger = logging.getLogger("litestar_workflows.db")

Write = Callable[[list[InstanceChange]], list[Outcome]]
"""Writes commits in one transaction: one outcome per commit, or raises if the transaction failed."""

_OUTAGES = (
    OperationalError,  # connection lost, database locked, disk full, deadlock: not one change's fault
    InterfaceError,
    sqlite3.OperationalError,  # the direct pysqlite path raises the driver's own errors
    sqlite3.InterfaceError,
    OSError,  # connection refused or reset, timeouts
)


_PASSING_SQLSTATES = frozenset(("08", "40", "53", "55", "57", "58"))
"""SQLSTATE classes of failures that are nobody's change: connection, transaction rollback (deadlock,
serialization), insufficient resources, lock not available, operator intervention, system error."""


_UNIQUE_VIOLATION = "23505"


def _sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE the driver reported (asyncpg and psycopg name it differently), if any."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return sqlstate if isinstance(sqlstate, str) else None


def is_outage(exc: BaseException) -> bool:
    """True if ``exc`` says the database failed as a whole (or for a moment), not that it refused a change."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = _sqlstate(exc)
        if sqlstate is not None and sqlstate[:2] in _PASSING_SQLSTATES:
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


def write_isolated(write: Write, changes: list[InstanceChange]) -> list[Outcome]:
    """``write(changes)``; if it fails because of some of them, those fail alone and the others are written.

    Each outcome is what ``write`` gives for that commit, or a ``ChangeRefusedError`` for a commit
    the database refused when it was written alone. An outage is raised (it would fail every
    commit). Order is kept: a commit is never written before one queued ahead of it.
    """
    try:
        return write(changes)
    except Exception as exc:
        if is_outage(exc):
            raise
        if len(changes) == 1:
            return [refusal(changes[0], exc)]
        logger.warning("a group of %d changes failed (%s); writing its halves apart", len(changes), type(exc).__name__)
    middle = len(changes) // 2
    return [*write_isolated(write, changes[:middle]), *write_isolated(write, changes[middle:])]


def write_in_transaction(
    connection: Connection, changes: list[InstanceChange], known: KnownRows | None = None
) -> list[Outcome]:
    """``write_changes`` in a transaction of its own on ``connection``, committed before this returns.

    Flushed to disk if any of ``changes`` must be (``db.flushing``).

    On PostgreSQL, commits creating an instance another transaction created meanwhile are
    refused and the others written again in a new transaction (``DuplicateCreations``).
    ``known``: told the instance rows as the committed transaction left them; on SQLite, the
    batch is first written on the rows as known, without reading them (``db.writer``), and
    again with the read if one was not as known or a created instance existed.
    """
    refused: dict[int, Outcome] = {}
    remaining = list(range(len(changes)))
    careful = False
    trusted = known if connection.dialect.name == "sqlite" else None
    flush = flushes(changes)
    use_flush(connection, flush)
    while True:
        seen: dict[Any, StoredInstance] | None = None if known is None else {}
        batch = [changes[index] for index in remaining]
        try:
            with connection.begin():
                if not flush:
                    relax_in_transaction(connection)
                written = write_changes(connection, batch, careful=careful, seen=seen, known=trusted)
            break
        except NotAsKnown:
            trusted = None
        except DuplicateCreations as duplicates:
            for position, error in duplicates.refusals.items():
                refused[remaining[position]] = error
            remaining = [index for position, index in enumerate(remaining) if position not in duplicates.refusals]
        except (IntegrityError, sqlite3.IntegrityError) as exc:
            if trusted is not None:
                trusted = None  # a created instance existed, maybe: the read tells which commits it refuses
            elif careful or not isinstance(exc, IntegrityError) or _sqlstate(exc) != _UNIQUE_VIOLATION:
                raise
            else:
                careful = True  # an instance created meanwhile, maybe: find out which commits it refuses
    if known is not None and seen is not None:
        known.remember([changes[index] for index in remaining], seen)
    outcomes = {**refused, **dict(zip(remaining, written, strict=True))}
    return [outcomes[index] for index in range(len(changes))]


def commit_batch(
    connection: Connection, changes: list[InstanceChange], known: KnownRows | None = None
) -> list[Outcome]:
    """Write a batch of commits on ``connection`` (not in a transaction), each refused one failing alone.

    If the database fails as a whole, every commit's outcome is that error (logged once).
    ``known``: the rows this writer knows, kept up to date (see ``db.known``).
    """
    try:
        return write_isolated(functools.partial(write_in_transaction, connection, known=known), changes)
    except Exception as exc:  # the database failed as a whole: nobody's change was recorded
        logger.exception("group commit of %d change(s) failed", len(changes))
        return [exc] * len(changes)


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
