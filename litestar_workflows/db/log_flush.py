"""SQLite files: the writer flushes the log itself, so the next batch is written while the disk works.

At ``synchronous=FULL`` a commit in WAL mode writes its pages to the log and then flushes the
log file (``fdatasync``) before COMMIT returns; during that flush the writer thread cannot write
the next batch, and under load the requests waiting for it leave the event loop idle. So the
writer connection commits at ``NORMAL`` (the same pages, written the same way, without the
flush) and the writer flushes the log file itself, the very call SQLite would make, before it
answers a commit that must be on disk. When nothing else waits, it flushes at once in its own
thread (one thread, as before); when more work is queued, a flusher thread flushes while the
writer thread writes the next batch. A caller is answered only after a flush that began once
its commit was written, so what was acknowledged is on disk, as at ``FULL``. (In WAL mode
``EXTRA`` adds nothing to ``FULL``: it concerns the rollback journal.) Checkpoints and the
restart of the log flush as SQLite does at ``NORMAL``, in the writer thread.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Connection

__all__ = ("Flusher", "LogFile", "answer_after")

_Answers = Callable[[BaseException | None], None]
"""Answers the callers of one written batch, with the flush's error if it failed."""


class LogFile:
    """The write-ahead log file of the database a connection is on, flushed through a descriptor of its own."""

    __slots__ = ("_descriptor", "_lock", "_path")

    @classmethod
    def of(cls, connection: Connection) -> LogFile | None:
        """The log of ``connection``'s database; None if it has none (not in WAL mode: SQLite flushes)."""
        cursor = connection.connection.cursor()
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            rows = cursor.execute("PRAGMA database_list").fetchall()
        finally:
            cursor.close()
        if str(mode).lower() != "wal":  # a file system without WAL support keeps the rollback journal
            return None
        return cls(Path(f"{next(row[2] for row in rows if row[1] == 'main')}-wal"))

    def __init__(self, path: Path) -> None:
        self._path = path
        self._descriptor: int | None = None
        self._lock = threading.Lock()
        """The writer thread may close the descriptor while the flusher thread flushes through it."""

    def flush(self) -> None:
        """Everything written to the log so far reaches the disk (``OSError`` if it cannot)."""
        with self._lock:
            descriptor = self._descriptor
            if descriptor is None:
                descriptor = self._descriptor = os.open(self._path, os.O_RDONLY)
            os.fdatasync(descriptor)

    def close(self) -> None:
        """Let the descriptor go; the next flush opens the log again.

        Called when the writer's connection is opened anew: SQLite removes the log when its
        last connection closes, and begins a new file after. While the writer's connection
        stays open, the file stays the same.
        """
        with self._lock:
            descriptor, self._descriptor = self._descriptor, None
            if descriptor is not None:
                os.close(descriptor)


class Flusher:
    """A thread that flushes the log for batches already written, then answers their callers.

    Every flush serves all batches handed over before it began.
    """

    __slots__ = ("_batches", "_lock", "_log", "_pending", "_thread")

    def __init__(self, log: LogFile) -> None:
        self._log = log
        self._batches: queue.SimpleQueue[_Answers | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0
        """Batches handed over and not answered yet."""
        self._thread = threading.Thread(target=self._serve, name="lsw-sqlite-flusher", daemon=True)
        self._thread.start()

    @property
    def idle(self) -> bool:
        """Nothing handed over waits for a flush."""
        return self._pending == 0

    def hand_over(self, answer: _Answers) -> None:
        """Answer a batch written just now once the log is flushed."""
        with self._lock:
            self._pending += 1
        self._batches.put(answer)

    def stop(self) -> None:
        """Flush and answer what was handed over, then end the thread."""
        self._batches.put(None)
        self._thread.join()

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            answers = [self._batches.get()]
            while not self._batches.empty():
                answers.append(self._batches.get_nowait())
            stopping = answers[-1] is None
            waiting = [answer for answer in answers if answer is not None]
            if waiting:
                self._answer(waiting)

    def _answer(self, waiting: list[_Answers]) -> None:
        error = _flushed(self._log.flush)
        for answer in waiting:
            answer(error)
        with self._lock:
            self._pending -= len(waiting)


def answer_after(flush: Callable[[], None], answer: _Answers) -> None:
    """Flush in this thread, then answer (with the flush's error, if any)."""
    answer(_flushed(flush))


def _flushed(flush: Callable[[], None]) -> BaseException | None:
    """Run ``flush``; the error a failed flush is to its callers: SQLite's own, had it flushed at COMMIT."""
    try:
        flush()
    except OSError as exc:
        error = sqlite3.OperationalError(f"disk I/O error: the log could not be flushed ({exc})")
        error.__cause__ = exc
        return error
    return None
