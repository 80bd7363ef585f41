""" "Run this runnable step": the seam between the engine and whatever executes steps.

The engine calls :meth:`StepDispatcher.dispatch` for every token that became runnable (its
state is already committed). The in-process dispatcher runs it as an asyncio task here; a queue
backend (``litestar_workflows.queue``: SAQ) enqueues ``(instance_id, token_id)`` and has a worker
call ``engine.run_token(instance_id, token_id)``. Dispatching twice is harmless: ``run_token``
checks the committed state and ignores tokens that are gone or not runnable.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

__all__ = ("InProcessDispatcher", "StepDispatcher", "TokenRunner")

TokenRunner = Callable[[UUID, str], Coroutine[Any, Any, object]]
"""``engine.run_token``: what it reports is for queue jobs; in process, a token held elsewhere is its holder's."""


@runtime_checkable
class StepDispatcher(Protocol):
    """Runs committed, runnable tokens, at once or not before a time."""

    def dispatch(self, instance_id: UUID, token_id: str, not_before: datetime | None = None) -> None:
        """Arrange for ``engine.run_token(instance_id, token_id)`` to run (not before ``not_before``)."""
        ...

    async def close(self, grace_period: float = 0.0) -> None:
        """Stop taking work; let running steps finish for ``grace_period`` seconds, then cancel them."""
        ...


class InProcessDispatcher:
    """Runs tokens as asyncio tasks on the current event loop; timers use ``loop.call_later``."""

    __slots__ = ("_closed", "_numbers", "_runner", "_tasks", "_timers")

    def __init__(self, runner: TokenRunner) -> None:
        self._runner = runner
        self._tasks: dict[int, asyncio.Task[None]] = {}
        """Running tasks by a number of their own (a task forgets itself without looking itself up)."""
        self._numbers = itertools.count()
        self._timers: set[asyncio.TimerHandle] = set()
        self._closed = False

    def dispatch(self, instance_id: UUID, token_id: str, not_before: datetime | None = None) -> None:
        """Start a task now, or schedule one for ``not_before``."""
        if self._closed:
            return  # left to recovery: the token is committed as READY
        loop = asyncio.get_running_loop()
        delay = 0.0 if not_before is None else (not_before - datetime.now(UTC)).total_seconds()
        if delay <= 0:
            self._spawn(instance_id, token_id, loop)
            return
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self._spawn(instance_id, token_id, loop)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def _spawn(self, instance_id: UUID, token_id: str, loop: asyncio.AbstractEventLoop) -> None:
        if self._closed:
            return
        number = next(self._numbers)
        self._tasks[number] = loop.create_task(self._run(instance_id, token_id, number))

    async def _run(self, instance_id: UUID, token_id: str, number: int) -> None:
        # The task forgets itself as it ends: a done callback would cost one more loop turn per token.
        try:
            await self._runner(instance_id, token_id)
        finally:
            self._tasks.pop(number, None)

    @property
    def pending(self) -> int:
        """Tasks running plus timers waiting (for diagnostics and tests)."""
        return len(self._tasks) + len(self._timers)

    async def close(self, grace_period: float = 0.0) -> None:
        """Stop: cancel timers, wait up to ``grace_period`` for running tasks, cancel the rest."""
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._tasks and grace_period > 0:
            await asyncio.wait(set(self._tasks.values()), timeout=grace_period)
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()  # a task cancelled before it began never ran the ``finally`` that forgets it
