"""The worker side: the SAQ job that runs one token, and what a worker process keeps while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar_workflows.engine.roles import TokenRun
from litestar_workflows.queue.dispatcher import JOB_NAME

if TYPE_CHECKING:
    from saq.job import Job
    from saq.types import Context

    from litestar_workflows.engine.engine import LocalExecutionEngine
    from litestar_workflows.queue.dispatcher import QueueDispatcher

__all__ = ("TokenJob", "WorkerRuntime", "token_job_function")

logger = logging.getLogger("litestar_workflows.queue")

TokenJob = Callable[..., Coroutine[Any, Any, str]]


class WorkerRuntime:
    """A worker process's engine (worker role) and how its jobs reschedule."""

    __slots__ = ("engine", "heartbeat", "held_retry_delay", "queue")

    def __init__(
        self, engine: LocalExecutionEngine, queue: QueueDispatcher, *, heartbeat: int, held_retry_delay: float
    ) -> None:
        self.engine = engine
        self.queue = queue
        self.heartbeat = heartbeat
        self.held_retry_delay = held_retry_delay

    async def run(self, job: Job | None, instance_id: UUID, token_id: str, attempt: int) -> TokenRun:
        """Run the token; if another worker holds the instance, enqueue a later try (never drop it)."""
        async with _touching(job, self.heartbeat / 3):
            outcome = await self.engine.run_token(instance_id, token_id)
        if outcome is TokenRun.HELD_ELSEWHERE:
            # The holder may be busy with another branch, or dead: its lease then expires and a later
            # try takes it over (so the delay never grows past a lease).
            delay = min(self.held_retry_delay * 2**attempt, self.engine.lease_seconds)
            later = datetime.now(UTC) + timedelta(seconds=delay)
            await self.queue.enqueue(instance_id, token_id, later, attempt + 1)
        return outcome


@contextlib.asynccontextmanager
async def _touching(job: Job | None, every: float) -> AsyncIterator[None]:
    """Keep the job's SAQ heartbeat fresh while it runs (a job of a dead worker stops being touched)."""
    if job is None:
        yield
        return

    async def touch_forever() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await job.update()
            except Exception:  # the queue may be down for a while: the step goes on regardless
                logger.warning("could not refresh the heartbeat of job %s", job.key, exc_info=True)

    toucher = asyncio.get_running_loop().create_task(touch_forever())
    try:
        yield
    finally:
        toucher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await toucher


def token_job_function(runtime: Callable[[], WorkerRuntime | None]) -> TokenJob:
    """The SAQ job function (named ``JOB_NAME``): run one token on this worker's engine.

    ``runtime`` gives the worker's runtime, which exists from the SAQ worker's start-up hook on.
    The job returns what ``run_token`` did.
    """

    async def run_token(ctx: Context, *, instance_id: str, token_id: str, attempt: int = 0) -> str:
        current = runtime()
        if current is None:
            msg = "the workflow engine of this worker is not running (SAQ start-up hook missing?)"
            raise RuntimeError(msg)
        outcome = await current.run(ctx.get("job"), UUID(instance_id), token_id, attempt)
        return outcome.value

    run_token.__qualname__ = run_token.__name__ = JOB_NAME  # SAQ finds a job's function by this name
    return run_token
