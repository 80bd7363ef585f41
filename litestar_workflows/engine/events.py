"""Engine events: what happened to an instance, published after it was committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

__all__ = ("EventBus", "InMemoryEventBus", "WorkflowEvent")


@dataclass(slots=True, frozen=True)
class WorkflowEvent:
    """One event: ``workflow.started``, ``step.succeeded``, ``task.completed``, ..."""

    event_type: str
    instance_id: UUID
    payload: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@runtime_checkable
class EventBus(Protocol):
    """Receives the engine's events (the reference engine's ``emit`` signature)."""

    async def emit(self, event_type: str, **payload: Any) -> None:
        """Publish one event; ``payload`` always holds ``instance_id``."""
        ...


class InMemoryEventBus:
    """Fan-out to subscribers in this process, each with its own bounded queue."""

    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: set[tuple[UUID | None, asyncio.Queue[WorkflowEvent]]] = set()

    async def emit(self, event_type: str, **payload: Any) -> None:
        """Deliver to every matching subscriber; a full queue drops its oldest event."""
        if not self._subscribers:  # nobody to tell: the event (and its clock read) would go unseen
            return
        instance_id = payload.pop("instance_id")
        self.deliver(WorkflowEvent(event_type, instance_id, payload))

    def deliver(self, event: WorkflowEvent) -> None:
        """Hand an event to this process's subscribers (also one that came from another process)."""
        for wanted, queue in tuple(self._subscribers):
            if wanted is not None and wanted != event.instance_id:
                continue
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(
        self, instance_id: UUID | None = None, max_backlog: int = 1000
    ) -> AsyncIterator[asyncio.Queue[WorkflowEvent]]:
        """Receive the events of one instance (or all) while the context is open."""
        entry = (instance_id, asyncio.Queue[WorkflowEvent](maxsize=max_backlog))
        self._subscribers.add(entry)
        try:
            yield entry[1]
        finally:
            self._subscribers.discard(entry)
