"""SQLite files: one thread writes everything, in group transactions, off the event loop.

Every write of the SQL persistence on a SQLite file (commits, leases, claims of tasks, the
start-up's schema and definitions) is a job in one queue, served by one thread that keeps one
connection. SQLite allows one writer at a time anyway; with one thread doing all the writing,
the engine's own writes never wait for each other's locks (claims and releases of tasks used to
wait for SQLite's write lock on a connection of their own, behind group commits), and the disk
flush of a commit never runs on the event loop's thread.

The hand-off is kept cheap, since a workflow run one step at a time pays it at every commit:
the loop puts a job in a ``queue.SimpleQueue`` (a lock release, no executor machinery), the
thread takes every job queued by then (commits queued back to back share one transaction:
group commit), and hands the results back with one ``loop.call_soon_threadsafe`` per batch.

The connection commits without flushing; the thread flushes the log itself before it answers a
commit that must be on disk, and hands that flush to a flusher thread when more work is queued,
so the next batch is written meanwhile (``db.log_flush``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from litestar_workflows.db.flushing import commit_unflushed, flushes, flushes_at_commit
from litestar_workflows.db.guards import outage_instead
from litestar_workflows.db.isolation import commit_batch
from litestar_workflows.db.known import KnownRows
from litestar_workflows.db.log_flush import Flusher, LogFile, answer_after
from litestar_workflows.engine.persistence import InstanceChange

__all__ = ("ThreadWriter",)

_T = TypeVar("_T")
_Work = Callable[[Connection], Any]
_Job = tuple[
    "InstanceChange | _Work | None", asyncio.AbstractEventLoop, "asyncio.Future[Any]", "asyncio.Future[None] | None"
]
"""What to do (a commit, a function to run in a write transaction, or None: stop), and whom to tell:
the caller's future, and for a commit answered when recorded, the future told once it is flushed."""
_Result = tuple["asyncio.Future[Any]", Any, "BaseException | None"]
_Answer = tuple[asyncio.AbstractEventLoop, _Result]
"""A job's result, and the event loop its caller waits on."""


class ThreadWriter:
    """The writer thread of a SQLite file and its queue.

    Args:
        engine: A synchronous (pysqlite) engine on the file, configured to begin transactions
            ``IMMEDIATE`` when asked (``lsw_begin``).
        max_batch: At most this many jobs are taken from the queue at once.
    """

    __slots__ = (
        "_closed",
        "_connection",
        "_engine",
        "_flusher",
        "_jobs",
        "_known",
        "_log",
        "_max_batch",
        "_thread",
    )

    def __init__(self, engine: Engine, max_batch: int) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._connection: Connection | None = None
        """The thread's connection, opened on first use and kept (only the thread touches it)."""
        self._closed = False
        self._known = KnownRows()
        """The rows as this thread's commits left them: a batch that only updates known rows is not read first."""
        self._log: LogFile | None = None
        """The log this thread flushes (None: the file is configured ``NORMAL``, or not opened yet)."""
        self._flusher: Flusher | None = None
        self._thread = threading.Thread(target=self._serve, name="lsw-sqlite-writer", daemon=True)
        self._thread.start()

    def commit(self, change: InstanceChange) -> Awaitable[tuple[bool, ...]]:
        """Write ``change`` (with its linked changes) in the next group transaction; raises its refusal.

        The future itself, not a coroutine around it: one frame less at every commit. A change
        that asks to be answered when recorded (``InstanceChange.answer_when_recorded``) gets a
        ``flushed`` future, told once its flush is done (at once if it needs none).
        """
        flushed = None
        if change.answer_when_recorded and change.flush:
            flushed = asyncio.get_running_loop().create_future()
            change.flushed = flushed
        held: asyncio.Future[tuple[bool, ...]] = self._submit(change, flushed=flushed)
        return held

    async def write(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in a write transaction of its own (BEGIN IMMEDIATE) in the writer thread; its result.

        A caller that is cancelled stops waiting, but the thread never stops half-way: it
        finishes (and commits or rolls back) what it started.
        """
        result: _T = await self._submit(work)
        return result

    async def close(self) -> None:
        """Write everything queued so far, close the connection and end the thread."""
        if self._closed:
            return
        self._closed = True
        await self._submit(None, closing=True)
        self._thread.join()

    def _submit(
        self,
        payload: InstanceChange | _Work | None,
        *,
        closing: bool = False,
        flushed: asyncio.Future[None] | None = None,
    ) -> asyncio.Future[Any]:
        if self._closed and not closing:
            msg = "the SQLite writer is closed"
            raise RuntimeError(msg)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((payload, loop, future, flushed))
        return future

    # --- the thread -----------------------------------------------------------------------------

    def _serve(self) -> None:
        stop: _Job | None = None
        while stop is None:
            jobs = self._take()
            if jobs[-1][0] is None:
                stop = jobs.pop()
            self._run(jobs)
        if self._flusher is not None:
            self._flusher.stop()  # every flush handed over is done and answered
        if self._log is not None:
            self._log.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing cannot lose anything: every job was answered
                connection.close()
        _deliver([(stop[1], (stop[2], None, None))])

    def _take(self) -> list[_Job]:
        """Wait for a job, then take whatever else is queued (up to ``max_batch``; a stop ends the batch)."""
        queued = self._jobs
        jobs = [queued.get()]
        # Only this thread takes jobs: a queue that is not empty has one to take now.
        while len(jobs) < self._max_batch and jobs[-1][0] is not None and not queued.empty():
            jobs.append(queued.get_nowait())
        return jobs

    def _run(self, jobs: list[_Job]) -> None:
        """Run the jobs in order: consecutive commits in one group transaction, any other job alone."""
        start = 0
        while start < len(jobs):
            end = start
            while end < len(jobs) and isinstance(jobs[end][0], InstanceChange):
                end += 1
            if end > start:
                self._commit(jobs[start:end])
                start = end
            else:
                self._work(jobs[start])
                start += 1

    def _commit(self, jobs: list[_Job]) -> None:
        changes = [job[0] for job in jobs if isinstance(job[0], InstanceChange)]
        try:
            outcomes: list[Any] = commit_batch(self._open(), changes, self._known)
        except Exception as exc:  # noqa: BLE001 - the file could not be opened: the callers' answer
            outcomes = [exc] * len(jobs)
        self._forget_broken_connection()
        flush = flushes(changes)
        flushed_apart = flush and self._log is not None  # this thread flushes next: some may be answered first
        recorded: list[_Answer] = []  # answered now; each learns of the flush on its ``flushed`` future
        answers: list[_Answer] = []
        for (_, loop, future, flushed), outcome in zip(jobs, outcomes, strict=True):
            result: _Result = (future, None, outcome) if isinstance(outcome, Exception) else (future, outcome, None)
            if flushed is not None:
                answers.append((loop, (flushed, None, None)))
                if flushed_apart and result[2] is None:
                    recorded.append((loop, result))
                    continue
            answers.append((loop, result))
        if recorded:
            _deliver(recorded)
        self._answer(answers, flush=flush, here=bool(recorded))

    def _work(self, job: _Job) -> None:
        work, loop, future, _ = job
        assert callable(work)
        try:
            connection = self._open()
            with connection.begin():
                result: _Result = (future, work(connection), None)
        except Exception as exc:  # noqa: BLE001 - whatever the work raised is its caller's answer
            result = (future, None, exc)
        self._forget_broken_connection()
        self._answer([(loop, result)], flush=True)  # claims, leases, definitions: acknowledged to someone

    def _answer(self, answers: list[_Answer], *, flush: bool, here: bool = False) -> None:
        """Answer now, or once the log is flushed: here if nothing else waits, else in the flusher thread.

        ``here``: flush in this thread whatever waits. Callers answered when their commit was
        recorded queue their next commits right away; whether those would be queued before this
        thread looks made the order of flushes and commits a race (measured: no faster either way).
        """
        log = self._log
        if not flush or log is None:
            _deliver(answers)
            return
        answer = functools.partial(_deliver_flushed, answers)
        flusher = self._flusher
        if flusher is None:
            flusher = self._flusher = Flusher(log)
        if here or (flusher.idle and self._jobs.empty()):
            answer_after(log.flush, answer)
        else:
            flusher.hand_over(answer)

    def _open(self) -> Connection:
        connection = self._connection
        if connection is None:
            connection = self._connection = self._engine.connect().execution_options(lsw_begin="IMMEDIATE")
            if self._log is not None:
                self._log.close()  # the log may be a new file: opened again at the next flush
            elif flushes_at_commit(connection):
                self._log = LogFile.of(connection)
            if self._log is not None:
                commit_unflushed(connection)
        return connection

    def _forget_broken_connection(self) -> None:
        connection = self._connection
        if connection is not None and (connection.invalidated or connection.closed):
            self._connection = None


def _deliver(answers: list[_Answer]) -> None:
    """Hand results to their futures, on each caller's event loop (from the writer's threads)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Result]] = {}
    for loop, result in answers:
        by_loop.setdefault(loop, []).append(result)
    for loop, results in by_loop.items():  # usually one: every caller on the same event loop
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(functools.partial(_settle, results))


def _deliver_flushed(answers: list[_Answer], error: BaseException | None) -> None:
    """Deliver, once the log was flushed; if the flush failed, what was written is not known to be on disk.

    The failure is reported as the outage it is, here, once: a ``flushed`` future is awaited by
    the engine itself, with no persistence method around it to report it.
    """
    if error is not None:
        outage = outage_instead(error)
        if outage is not None:
            outage.__cause__ = error
            error = outage
        answers = [(loop, (future, None, error)) for loop, (future, _, _) in answers]
    _deliver(answers)


def _settle(results: list[_Result]) -> None:
    for future, value, error in results:
        if future.done():  # the caller stopped waiting
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
