"""Which transactions wait for the disk, and how each database is told so.

A commit the engine acknowledges to someone (``InstanceChange.flush``) must survive a power
failure before ``commit`` returns; machine progress nobody has been told of must only survive
the process being killed, and becomes durable with the next flushed commit. What makes that
sound is that each database has one log, written in order: flushing the log up to one commit
flushes every commit written before it. A transaction of a group commit flushes if any of its
commits must.

SQLite (WAL): the ``synchronous`` level. At ``NORMAL`` a commit is written to the log (the
operating system holds it: a killed process loses nothing) and not flushed; at ``FULL`` (or
``EXTRA``) the commit flushes the log, with everything written to it before. The level is a
setting of the connection, so it is switched between transactions, and only when it changes.
A file configured ``NORMAL`` never flushes at commit (the operator chose so). The writer of a
file in WAL mode does not switch: it commits at ``NORMAL`` and flushes the log itself before it
answers (``commit_unflushed``, ``db.log_flush``); the switch serves the other connections
(SQLite in memory, a file the file system keeps out of WAL mode).

PostgreSQL: ``synchronous_commit`` off for that one transaction (``SET LOCAL``, or
``set_config(..., true)`` inside the one-statement commit of ``db.alone``): the server answers
before its log is flushed; its WAL writer flushes it within a fraction of a second, and any
later synchronous commit waits for a log position after this one's.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from sqlalchemy.engine import Connection

from litestar_workflows.engine.persistence import InstanceChange

__all__ = (
    "commit_unflushed",
    "flushes",
    "flushes_at_commit",
    "relax_in_transaction",
    "remember_sqlite_level",
    "use_flush",
)

_FLUSHED_LEVEL = "lsw_flushed_level"
"""Connection info: the ``synchronous`` level the file was configured with (what a flushed commit uses)."""
_LEVEL_NOW = "lsw_level_now"
"""Connection info: the level the connection is at now."""
_UNFLUSHED_LEVEL = "NORMAL"


def flushes(changes: list[InstanceChange]) -> bool:
    """True if the transaction writing ``changes`` must be on disk when it commits."""
    return any(change.flush for change in changes)


def remember_sqlite_level(info: MutableMapping[str, Any], synchronous: str) -> None:
    """On a new SQLite connection set to ``synchronous``: what its flushed commits use, and the level now."""
    info[_FLUSHED_LEVEL] = synchronous
    info[_LEVEL_NOW] = synchronous


def use_flush(connection: Connection, flush: bool) -> None:
    """Before a write transaction begins on ``connection``: SQLite's level for it (other databases: nothing).

    PostgreSQL is told inside the transaction (:func:`relax_in_transaction`).
    """
    info = connection.info
    flushed = info.get(_FLUSHED_LEVEL)
    if flushed is None:  # not a SQLite connection configured by ``db.connect``
        return
    wanted = flushed if flush else _UNFLUSHED_LEVEL
    if info[_LEVEL_NOW] != wanted:
        # The DB-API cursor: SQLAlchemy's execute would begin a transaction, and SQLite refuses
        # to change the level inside one.
        cursor = connection.connection.cursor()
        try:
            cursor.execute(f"PRAGMA synchronous={wanted}")
        finally:
            cursor.close()
        info[_LEVEL_NOW] = wanted


def flushes_at_commit(connection: Connection) -> bool:
    """True if the commits on this SQLite connection that must be on disk are flushed (``FULL``, ``EXTRA``)."""
    configured = connection.info.get(_FLUSHED_LEVEL)
    return configured is not None and configured != _UNFLUSHED_LEVEL


def commit_unflushed(connection: Connection) -> None:
    """From now on every commit on this SQLite connection is written without a flush (``NORMAL``).

    For a writer that flushes the log itself (``db.log_flush``).
    """
    use_flush(connection, flush=False)
    connection.info[_FLUSHED_LEVEL] = _UNFLUSHED_LEVEL  # ``use_flush`` keeps it there


def relax_in_transaction(connection: Connection) -> None:
    """Inside a PostgreSQL transaction that need not be flushed: the server may answer before it is."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
