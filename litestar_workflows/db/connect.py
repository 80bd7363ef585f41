"""How the SQL persistence's engines talk to their database: JSON, the pool, and SQLite's pragmas and BEGIN mode."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import msgspec
from sqlalchemy import Engine, event, make_url

from litestar_workflows.db.flushing import remember_sqlite_level
from litestar_workflows.db.sqlite_threads import BUSY_TIMEOUT_MS

__all__ = ("configure_sqlite", "json_dumps", "pool_options", "write_options")


def json_dumps(value: Any) -> str:
    """JSON columns are written by msgspec (faster than the standard library's encoder)."""
    return msgspec.json.encode(value).decode()


def pool_options(url: str, pool_size: int) -> dict[str, Any]:
    """``create_async_engine`` options for an engine the persistence makes from ``url``.

    Not for SQLite, whose file gets a writer thread and reader threads of their own (and whose
    in-memory database a single static connection). Elsewhere a pool of ``pool_size`` connections
    kept open, and as many again opened for a moment under load: the default pool (5 and 10) is
    smaller than one server's concurrent requests, and a connection handed back to a full pool is
    closed, so under load most requests paid for a new PostgreSQL connection (milliseconds each).
    """
    if make_url(url).get_backend_name() == "sqlite":
        return {}
    return {"pool_size": pool_size, "max_overflow": pool_size}


def write_options(dialect_name: str) -> dict[str, Any]:
    """Execution options of a connection that writes.

    SQLite: a deferred transaction that reads before it writes cannot wait for the write lock
    (the busy handler is skipped: "database is locked"), so writers take it up front.
    """
    return {"lsw_begin": "IMMEDIATE"} if dialect_name == "sqlite" else {}


_WAL_RETRY_PAUSE_S = 0.005


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, waiting (up to the busy timeout) for other processes' write locks.

    While another connection holds a write transaction on a file still in rollback mode (a process
    creating the tables of a fresh database), SQLite refuses the switch at once ("database is
    locked") without calling the busy handler: it would otherwise deadlock on its own read lock.
    So the wait the busy timeout promises is done here, in short pauses. Only the first connection
    to a fresh file can meet it (the file's writer thread, at start-up): the mode is stored in the
    file, and switching a file already in WAL takes no write lock.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(_WAL_RETRY_PAUSE_S)


def configure_sqlite(engine: Engine, synchronous: str) -> None:
    """WAL, busy timeout, foreign keys, and explicit BEGIN so SAVEPOINTs work with pysqlite."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_lsw_configured", False):
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy, not the driver, begin transactions
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        remember_sqlite_level(record.info, synchronous)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("lsw_begin", "")
        # Straight to the DBAPI cursor: SQLAlchemy's statement machinery costs more than BEGIN itself.
        cursor = connection.connection.cursor()
        try:
            cursor.execute(f"BEGIN {mode}".strip())
        finally:
            cursor.close()

    engine._lsw_configured = True  # type: ignore[attr-defined]  # a marker on SQLAlchemy's object: configure once
