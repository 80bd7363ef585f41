"""Dispatching through SAQ: a job per runnable token, carrying ids only.

The web role enqueues everything (:class:`QueueDispatcher`). A worker runs what it holds the
lease of in its own process and enqueues the rest (:class:`WorkerDispatcher`): the branches of
an instance it advances stay with it, and timers become scheduled jobs.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from saq.job import Job

from litestar_workflows.engine.dispatch import InProcessDispatcher

if TYPE_CHECKING:
    from saq.queue.base import Queue

__all__ = ("JOB_NAME", "QueueDispatcher", "WorkerDispatcher", "token_job")

logger = logging.getLogger("litestar_workflows.queue")

JOB_NAME = "litestar_workflows_run_token"
"""The SAQ name of the job that runs one token: SAQ names a job by its function (``queue.jobs``)."""

ENQUEUE_WAIT = 5.0
"""Seconds a closing dispatcher waits for enqueues under way (work it loses is left to recovery)."""


def token_job(
    instance_id: UUID, token_id: str, not_before: datetime | None, attempt: int, *, heartbeat: int, grouped: bool
) -> Job:
    """The job for one dispatch of a token.

    Its key dedupes identical dispatches (same token, same time, same try) while one is queued or
    running; a later time or a retry is a new job. ``group_key`` (PostgreSQL) lets one job per
    instance run at a time: the others wait in the queue instead of finding the lease taken.
    ``timeout=0``: SAQ never cancels a step; ``retries=1``: SAQ does not run a job again, since
    the engine's recovery finds work a job lost.
    """
    scheduled = 0 if not_before is None else math.ceil(not_before.timestamp())
    return Job(
        function=JOB_NAME,
        kwargs={"instance_id": str(instance_id), "token_id": token_id, "attempt": attempt},
        key=f"{instance_id}:{token_id}:{scheduled}:{attempt}",
        timeout=0,
        heartbeat=heartbeat,
        retries=1,
        scheduled=scheduled,
        group_key=str(instance_id) if grouped else None,
    )


class QueueDispatcher:
    """Enqueues a job per dispatched token (the web role's dispatcher, and a worker's for what it does not hold)."""

    __slots__ = ("_closed", "_enqueues", "_grouped", "_heartbeat", "_queue")

    def __init__(self, queue: Queue, *, heartbeat: int, grouped: bool) -> None:
        self._queue = queue
        self._heartbeat = heartbeat
        self._grouped = grouped
        self._enqueues: set[asyncio.Task[bool]] = set()
        self._closed = False

    def dispatch(self, instance_id: UUID, token_id: str, not_before: datetime | None = None) -> None:
        """Enqueue in the background (``dispatch`` is called right after a commit and must not wait)."""
        if self._closed:
            return  # left to recovery: the token is committed as READY
        task = asyncio.get_running_loop().create_task(self.enqueue(instance_id, token_id, not_before))
        self._enqueues.add(task)
        task.add_done_callback(self._enqueues.discard)

    async def enqueue(self, instance_id: UUID, token_id: str, not_before: datetime | None, attempt: int = 0) -> bool:
        """Enqueue one job now; False if it was a duplicate or the queue failed (recovery then runs the token)."""
        job = token_job(instance_id, token_id, not_before, attempt, heartbeat=self._heartbeat, grouped=self._grouped)
        try:
            return await self._queue.enqueue(job) is not None
        except Exception:
            logger.warning(
                "enqueueing token %s of instance %s failed; the workers' recovery will run it",
                token_id,
                instance_id,
                exc_info=True,
            )
            return False

    async def close(self, grace_period: float = 0.0) -> None:
        """Take no more work; let enqueues under way finish (they are quick) before the queue disconnects."""
        self._closed = True
        if self._enqueues:
            await asyncio.wait(set(self._enqueues), timeout=max(grace_period, ENQUEUE_WAIT))


class WorkerDispatcher:
    """A worker's dispatcher: tokens due now of instances it holds run here; the rest goes to the queue."""

    __slots__ = ("_holds", "_local", "_queue")

    def __init__(self, holds_lease: Callable[[UUID], bool], local: InProcessDispatcher, queue: QueueDispatcher) -> None:
        self._holds = holds_lease
        self._local = local
        self._queue = queue

    @property
    def queue(self) -> QueueDispatcher:
        """Where tokens this worker does not run itself go (jobs reschedule through it)."""
        return self._queue

    def dispatch(self, instance_id: UUID, token_id: str, not_before: datetime | None = None) -> None:
        """Run here if due now and held here, else enqueue (timers become scheduled jobs)."""
        due = not_before is None or not_before <= datetime.now(UTC)
        if due and self._holds(instance_id):
            self._local.dispatch(instance_id, token_id)
        else:
            self._queue.dispatch(instance_id, token_id, not_before)

    async def close(self, grace_period: float = 0.0) -> None:
        """Let running steps finish for ``grace_period`` seconds (then cancel them), and the enqueues under way."""
        await self._local.close(grace_period)
        await self._queue.close(grace_period)
