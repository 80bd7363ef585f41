"""W3's ceiling: bare Litestar endpoints served by the same app, process and server as the workflow API.

- ``POST /bare`` decodes the same body a start takes and answers a small JSON object: what one
  uvicorn worker and Litestar cost per request, with no workflow and no database.
- ``POST /bare-sqlite`` does the same and inserts one row per request into a SQLite file (WAL,
  ``synchronous=FULL`` like ours), requests arriving together sharing one commit (group commit)
  made in a worker thread: about the least a durable write per request can cost here.

The workflow endpoints' ratio to these is the figure issue 17 aims at.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, post
from litestar.datastructures import State

__all__ = ["GroupCommit", "ceiling_handlers", "ceiling_lifespan"]


class StartBody(msgspec.Struct):
    """The body a start of ours takes (``{"workflow": ...}``); decoded the same way."""

    workflow: str


class GroupCommit:
    """One writer for a SQLite file: rows queued by concurrent requests go into one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: list[tuple[tuple[str, str, float], asyncio.Future[int]]] = []
        self._wake = asyncio.Event()
        self._connection: sqlite3.Connection | None = None

    def open(self) -> None:
        # check_same_thread=False: the writer thread commits, the event loop only queues.
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE IF NOT EXISTS started (id TEXT PRIMARY KEY, workflow TEXT, at REAL)")
        self._connection = connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()

    async def insert(self, workflow: str) -> int:
        """Queue one row and wait until it is committed; the size of the batch it went in."""
        committed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(((str(uuid.uuid4()), workflow, time.time()), committed))
        self._wake.set()
        return await committed

    async def run(self) -> None:
        """Commit whatever has queued up, one batch after the other, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self._write, [row for row, _ in batch])
            except sqlite3.Error as exc:
                for _, committed in batch:
                    committed.set_exception(exc)
                continue
            for _, committed in batch:
                committed.set_result(len(batch))

    def _write(self, rows: list[tuple[str, str, float]]) -> None:
        assert self._connection is not None
        self._connection.execute("BEGIN IMMEDIATE")
        self._connection.executemany("INSERT INTO started (id, workflow, at) VALUES (?, ?, ?)", rows)
        self._connection.execute("COMMIT")


@post("/bare", status_code=201)
async def bare(data: StartBody) -> dict[str, str]:
    return {"id": str(uuid.uuid4()), "workflow": data.workflow}


@post("/bare-sqlite", status_code=201)
async def bare_sqlite(data: StartBody, state: State) -> dict[str, Any]:
    writer: GroupCommit = state.ceiling_writer
    batch = await writer.insert(data.workflow)
    return {"workflow": data.workflow, "batch": batch}


ceiling_handlers = [bare, bare_sqlite]


def ceiling_lifespan(path: Path) -> Any:
    """The app's lifespan hook: the writer of ``/bare-sqlite`` runs while the app does."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        writer = GroupCommit(path)
        writer.open()
        app.state.ceiling_writer = writer
        task = asyncio.create_task(writer.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            writer.close()

    return lifespan
