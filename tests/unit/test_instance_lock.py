"""The engine's per-instance lock: a waiter cancelled while it waits leaves with ``CancelledError``.

The lock hands itself directly to the oldest waiter on release. A waiter cancelled just before
the release used to find its future already dropped by the release and raised ``ValueError``
instead of ``CancelledError`` (seen when a cancel raced a step finishing).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from litestar_workflows import (
    InMemoryEventBus,
    InMemoryPersistence,
    LocalExecutionEngine,
    WorkflowContext,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.engine.dispatch import InProcessDispatcher
from litestar_workflows.engine.persistence import InstanceChange
from litestar_workflows.engine.records import InstanceLock as _InstanceLock
from tests.helpers import FuncStep, SetStep, chain


async def _queued(lock: _InstanceLock, count: int) -> list[asyncio.Task[None]]:
    """``count`` tasks waiting for ``lock`` (held by the caller), in that order."""
    tasks = [asyncio.create_task(lock.acquire()) for _ in range(count)]
    while len(lock._waiters or ()) < count:
        await asyncio.sleep(0)  # each task runs up to its wait; no time passes
    return tasks


async def test_a_waiter_cancelled_just_before_the_release_raises_cancelled_error() -> None:
    lock = _InstanceLock()
    lock.try_acquire()
    first, second = await _queued(lock, 2)

    first.cancel()
    lock.release()  # before ``first`` wakes up: the release skips its cancelled future

    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 5)  # the lock went to the next waiter
    assert lock.held
    lock.release()
    assert not lock.held


async def test_a_waiter_cancelled_just_before_the_release_frees_the_lock_when_alone() -> None:
    lock = _InstanceLock()
    lock.try_acquire()
    (only,) = await _queued(lock, 1)

    only.cancel()
    lock.release()

    with pytest.raises(asyncio.CancelledError):
        await only
    assert not lock.held
    assert lock.try_acquire()


async def test_a_waiter_cancelled_after_the_hand_over_passes_the_lock_on() -> None:
    lock = _InstanceLock()
    lock.try_acquire()
    first, second = await _queued(lock, 2)

    lock.release()  # hands the lock to ``first``...
    first.cancel()  # ...which is cancelled before it runs: it must not keep the lock

    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 5)
    assert lock.held
    lock.release()
    assert not lock.held


async def test_a_waiter_cancelled_while_the_lock_stays_held_leaves_the_queue() -> None:
    lock = _InstanceLock()
    lock.try_acquire()
    first, second = await _queued(lock, 2)

    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(lock._waiters or ()) == 1

    lock.release()
    await asyncio.wait_for(second, 5)
    assert lock.held


class _GatedPersistence(InMemoryPersistence):
    """In-memory persistence whose commit of a cancellation waits until the test opens a gate."""

    def __init__(self) -> None:
        super().__init__()
        self.cancel_committing = asyncio.Event()
        self.gate = asyncio.Event()

    async def commit(self, change: InstanceChange) -> bool:
        if change.instance.status is WorkflowStatus.CANCELED:
            self.cancel_committing.set()
            await self.gate.wait()
        return await super().commit(change)


async def test_cancel_racing_a_finishing_step_ends_the_step_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """The step finishes while the cancel holds the instance's lock; the cancel then stops the step's task.

    The step's task waits for the lock to record its result when the cancel, committed, cancels
    it and releases the lock. It must end as cancelled: before the fix it raised ``ValueError``,
    which the engine logged as a token that "could not run".
    """
    caplog.set_level(logging.WARNING, logger="litestar_workflows")
    persistence = _GatedPersistence()
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence, InMemoryEventBus())
    entered = asyncio.Event()
    go = asyncio.Event()

    async def work(context: WorkflowContext) -> Any:
        entered.set()
        await go.wait()
        return "done"

    try:
        started = await engine.start_workflow(chain("race", [FuncStep("work", work), SetStep("after", "x", 1)]))
        await asyncio.wait_for(entered.wait(), 5)
        cancelling = asyncio.create_task(engine.cancel_workflow(started.id, "withdrawn"))
        await asyncio.wait_for(persistence.cancel_committing.wait(), 5)  # the cancel holds the lock

        go.set()  # the step returns and its task queues for the lock
        record = engine._runtime[started.id.int]
        while not record._waiters:
            await asyncio.sleep(0)

        persistence.gate.set()
        cancelled = await asyncio.wait_for(cancelling, 5)
        dispatcher = engine.dispatcher
        assert isinstance(dispatcher, InProcessDispatcher)
        while dispatcher.pending:  # the step's task has ended
            await asyncio.sleep(0)
    finally:
        await engine.stop(0)

    assert cancelled.status is WorkflowStatus.CANCELED
    assert (await engine.get_instance(started.id)).status is WorkflowStatus.CANCELED
    assert started.id.int not in engine._runtime  # nothing holds the lock or the record
    problems = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert problems == []
