"""Server-sent events for one instance, fed by the engine's in-process event bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import msgspec
from litestar.response import ServerSentEventMessage

from litestar_workflows.core.models import WorkflowInstanceData
from litestar_workflows.engine.engine import LocalExecutionEngine
from litestar_workflows.engine.events import InMemoryEventBus
from litestar_workflows.web.schemas import InstanceEvent

__all__ = ("FINAL_EVENTS", "instance_event_stream")

FINAL_EVENTS = frozenset({"workflow.completed", "workflow.failed", "workflow.canceled"})
"""Events after which an instance's stream ends."""


def _message(sequence: int, event: InstanceEvent) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=msgspec.json.encode(event).decode(), event=event.type, id=sequence)


def _snapshot(state: WorkflowInstanceData) -> InstanceEvent:
    return InstanceEvent(
        type="instance.snapshot",
        instance_id=state.id,
        at=datetime.now(UTC),
        payload={"status": state.status.value, "active_steps": state.active_steps, "error": state.error},
    )


async def instance_event_stream(
    engine: LocalExecutionEngine, bus: InMemoryEventBus, instance_id: UUID, keepalive: float
) -> AsyncIterator[ServerSentEventMessage]:
    """A snapshot of the instance, then its events as they are committed, until it finishes.

    The subscription opens before the snapshot is read, so no event falls in between. An idle
    stream sends a comment every ``keepalive`` seconds and re-reads the instance, which also
    ends the stream when the instance was finished by another process.
    """
    async with bus.subscribe(instance_id) as queue:
        state = await engine.get_instance(instance_id)
        sequence = 1
        yield _message(sequence, _snapshot(state))
        if state.status.is_finished:
            return
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), keepalive)
            except TimeoutError:
                state = await engine.get_instance(instance_id)
                if state.status.is_finished:
                    sequence += 1
                    yield _message(sequence, _snapshot(state))
                    return
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            sequence += 1
            yield _message(
                sequence,
                InstanceEvent(
                    type=event.event_type, instance_id=event.instance_id, at=event.at, payload=dict(event.payload)
                ),
            )
            if event.event_type in FINAL_EVENTS:
                return
