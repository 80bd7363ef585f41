"""A fresh SQLite file whose tables another process is creating still opens in WAL mode.

SQLite refuses ``PRAGMA journal_mode=WAL`` at once ("database is locked", no busy handler) while
another connection holds a write transaction on a file in rollback mode: one CI run lost one of five
processes starting together on a fresh file to it (bare sqlite3, 5 processes at once: 16 of 200).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from litestar_workflows.db.connect import configure_sqlite


def test_a_connection_waits_for_another_process_creating_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite3"
    creator = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    creator.execute("CREATE TABLE first_table (x INTEGER)")
    creator.execute("BEGIN IMMEDIATE")  # another process, half-way through creating its tables
    creator.execute("CREATE TABLE second_table (x INTEGER)")
    released = threading.Event()

    def finish_creating() -> None:
        time.sleep(0.3)
        creator.execute("COMMIT")
        released.set()

    engine = create_engine(f"sqlite+pysqlite:///{path}")
    configure_sqlite(engine, "FULL")
    finisher = threading.Thread(target=finish_creating)
    finisher.start()
    try:
        with engine.connect() as connection:
            mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
            tables = connection.execute(text("SELECT count(*) FROM sqlite_master WHERE type = 'table'")).scalar_one()
    finally:
        finisher.join()
        engine.dispose()
        creator.close()
    assert released.is_set()
    assert (mode, tables) == ("wal", 2)
