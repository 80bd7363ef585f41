"""Engine events across processes, through Litestar's ``ChannelsPlugin``.

Every process publishes its engine's events on one channel; the web role listens and hands
each event to its in-process bus (which feeds the SSE streams) and to its engine (which wakes
``wait_for`` callers). The web role's own events take the same path, so a stream sees every
event once, in the order the channel delivers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from litestar_workflows.engine.events import InMemoryEventBus, WorkflowEvent

if TYPE_CHECKING:
    from litestar.channels import ChannelsPlugin
    from litestar.channels.subscriber import Subscriber

__all__ = ("ChannelsEventBus", "SharedEvent")

logger = logging.getLogger("litestar_workflows.queue")


class SharedEvent(msgspec.Struct, frozen=True):
    """An engine event as it travels between processes."""

    type: str
    instance_id: UUID
    at: datetime
    payload: dict[str, Any]


_decode = msgspec.json.Decoder(SharedEvent).decode


class ChannelsEventBus:
    """Publishes engine events on a channel; :meth:`listening` delivers the channel's events in this process."""

    __slots__ = ("_channel", "_channels", "_local")

    def __init__(self, channels: ChannelsPlugin, channel: str, local: InMemoryEventBus) -> None:
        self._channels = channels
        self._channel = channel
        self._local = local

    async def emit(self, event_type: str, **payload: Any) -> None:
        """Publish one event (the channel delivers it to every listening process, this one included)."""
        instance_id = payload.pop("instance_id")
        event = SharedEvent(event_type, instance_id, datetime.now(UTC), payload)
        self._channels.publish(msgspec.json.encode(event), self._channel)

    @contextlib.asynccontextmanager
    async def listening(self, on_change: Callable[[UUID], Awaitable[None]]) -> AsyncIterator[None]:
        """Deliver the channel's events to this process's bus and call ``on_change(instance_id)`` for each."""
        subscriber = await self._channels.subscribe(self._channel)
        task = asyncio.get_running_loop().create_task(self._forward(subscriber, on_change))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self._channels.unsubscribe(subscriber)

    async def _forward(self, subscriber: Subscriber, on_change: Callable[[UUID], Awaitable[None]]) -> None:
        async for raw in subscriber.iter_events():
            try:
                event = _decode(raw)
            except msgspec.DecodeError:
                logger.warning("ignored a message on %s that is no workflow event", self._channel)
                continue
            self._local.deliver(WorkflowEvent(event.type, event.instance_id, event.payload, event.at))
            try:
                await on_change(event.instance_id)
            except Exception:
                logger.exception("instance %s: could not re-read it after another process's event", event.instance_id)
