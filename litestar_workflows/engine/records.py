"""What the engine keeps about one instance: its lock, cached state, lease flag, running tokens, waiters."""

from __future__ import annotations

import asyncio
import types
from collections import deque
from collections.abc import Generator
from typing import Any

from litestar_workflows.core.models import WorkflowInstanceData

__all__ = ("InstanceLock", "InstanceRecord", "yield_to_loop")


@types.coroutine
def yield_to_loop() -> Generator[None, None, None]:
    """``await asyncio.sleep(0)`` without the extra coroutine: one bare yield to the event loop."""
    yield


class InstanceLock:
    """A FIFO asyncio lock that is taken without creating a coroutine when nobody holds it.

    ``asyncio.Lock`` costs two coroutines per ``async with`` even when uncontended, on every
    step; the hot path here calls :meth:`try_acquire` and only awaits when another writer of
    the same instance holds the lock. Release hands the lock directly to the oldest waiter.
    """

    __slots__ = ("_waiters", "held")

    def __init__(self) -> None:
        self.held = False
        self._waiters: deque[asyncio.Future[None]] | None = None

    def locked(self) -> bool:
        return self.held

    def try_acquire(self) -> bool:
        if self.held:
            return False
        self.held = True
        return True

    async def acquire(self) -> None:
        if not self.held:
            self.held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = deque()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the lock was handed over just as we were cancelled: pass it on
            elif future in self._waiters:
                # Not there when ``release`` ran between the cancel and now: it dropped the
                # cancelled future and handed the lock to the next waiter (or freed it).
                self._waiters.remove(future)
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            future = waiters.popleft()
            if not future.done():
                future.set_result(None)  # ``held`` stays True: ownership moves to that waiter
                return
        self.held = False

    async def __aenter__(self) -> None:
        if not self.try_acquire():
            await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()


class InstanceRecord(InstanceLock):
    """What this engine keeps about one instance, in one record (one dict lookup per step).

    The record is the instance's lock itself (one object less per live instance). ``state``
    caches the committed state while this engine holds the lease and the instance is running;
    ``leased`` says whether this engine holds the lease; ``running`` maps token ids to the tasks
    running their steps; ``waiters`` are ``wait_for`` futures. The record is dropped as soon as
    none of that is left (see :meth:`idle`).
    """

    __slots__ = ("leased", "pins", "running", "state", "waiters")

    def __init__(self) -> None:
        self.held = False  # the lock's fields, set here: one call less per instance
        self._waiters = None
        self.state: WorkflowInstanceData | None = None
        self.leased = False
        self.running: dict[str, asyncio.Task[Any]] = {}
        self.waiters: list[asyncio.Future[WorkflowInstanceData]] | None = None
        self.pins = 0
        """``run_token`` loops using this record (it stays registered while they run, even between steps)."""

    def stop_running(self) -> None:
        """Cancel the tasks running this instance's steps (the instance was cancelled), except the caller's own."""
        current = asyncio.current_task()
        for task in list(self.running.values()):
            if task is not current:
                task.cancel()

    def idle(self) -> bool:
        return (
            self.state is None
            and not self.leased
            and not self.running
            and not self.held
            and not self.waiters
            and not self.pins
        )
