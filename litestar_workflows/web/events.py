"""Server-sent events for one instance, fed by the engine's in-process event bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar.response import ServerSentEventMessage

from litestar_workflows.core.models import WorkflowInstanceData
from litestar_workflows.engine.engine import LocalExecutionEngine
from litestar_workflows.engine.events import InMemoryEventBus, WorkflowEvent
from litestar_workflows.web.schemas import InstanceEvent

__all__ = ("FINAL_EVENTS", "SHUTDOWN_COMMENT", "StreamsEnd", "instance_event_stream", "next_event")

FINAL_EVENTS = frozenset({"workflow.completed", "workflow.failed", "workflow.canceled"})
"""Events after which an instance's stream ends."""


class StreamsEnd:
    """Ends every open event stream of an app at once, when the app shuts down.

    ASGI servers (uvicorn among them) wait for open responses to finish before they run the
    app's lifespan shutdown, and an event stream on a waiting instance never finishes by itself:
    the server would hang on it. :meth:`now` is called as the shutdown begins (the plugin calls
    it on SIGTERM/SIGINT and at lifespan shutdown); streams then end at once.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def reset(self) -> None:
        """A new app run: streams opened from now on run until the next :meth:`now` (call on the app's loop)."""
        self._event = asyncio.Event()

    def now(self) -> None:
        """End the open streams (and any opened later in this run)."""
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        """Return when :meth:`now` was called (never before the app started)."""
        if self._event is None:
            self._event = asyncio.Event()
        await self._event.wait()


SHUTDOWN_COMMENT = "the server is shutting down"


def _message(sequence: int, event: InstanceEvent) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=msgspec.json.encode(event).decode(), event=event.type, id=sequence)


def _snapshot(state: WorkflowInstanceData) -> InstanceEvent:
    return InstanceEvent(
        type="instance.snapshot",
        instance_id=state.id,
        at=datetime.now(UTC),
        payload={"status": state.status.value, "active_steps": state.active_steps, "error": state.error},
    )


async def next_event(
    queue: asyncio.Queue[WorkflowEvent], ending: asyncio.Future[None], keepalive: float
) -> WorkflowEvent | None:
    """The next event; None when the stream is to end; raises ``TimeoutError`` after ``keepalive`` idle seconds."""
    if not queue.empty():
        return queue.get_nowait()
    getting = asyncio.ensure_future(queue.get())
    waiting: set[asyncio.Future[Any]] = {getting, ending}
    try:
        done, _ = await asyncio.wait(waiting, timeout=keepalive, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getting.done():
            getting.cancel()
    if getting in done:
        return getting.result()
    if ending in done:
        return None
    raise TimeoutError


async def instance_event_stream(
    engine: LocalExecutionEngine,
    bus: InMemoryEventBus,
    instance_id: UUID,
    keepalive: float,
    streams_end: StreamsEnd | None = None,
) -> AsyncIterator[ServerSentEventMessage]:
    """A snapshot of the instance, then its events as they are committed, until it finishes.

    The subscription opens before the snapshot is read, so no event falls in between. An idle
    stream sends a comment every ``keepalive`` seconds and re-reads the instance, which also
    ends the stream when the instance was finished by another process. ``streams_end`` ends the
    stream early, with a comment, when the app shuts down.
    """
    ending = asyncio.ensure_future((streams_end or StreamsEnd()).wait())
    try:
        async with bus.subscribe(instance_id) as queue:
            state = await engine.get_instance(instance_id)
            sequence = 1
            yield _message(sequence, _snapshot(state))
            if state.status.is_finished:
                return
            while True:
                try:
                    event = await next_event(queue, ending, keepalive)
                except TimeoutError:
                    state = await engine.get_instance(instance_id)
                    if state.status.is_finished:
                        sequence += 1
                        yield _message(sequence, _snapshot(state))
                        return
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
                    continue
                if event is None:
                    yield ServerSentEventMessage(data=None, comment=SHUTDOWN_COMMENT)
                    return
                sequence += 1
                yield _message(
                    sequence,
                    InstanceEvent(
                        type=event.event_type, instance_id=event.instance_id, at=event.at, payload=dict(event.payload)
                    ),
                )
                if event.event_type in FINAL_EVENTS:
                    return
    finally:
        ending.cancel()
