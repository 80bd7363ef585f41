"""The inbox's live updates: a server-sent ``inbox`` event whenever a task the caller may act on opens or closes.

The events say only that the inbox changed, never which task or instance: the page then reloads
its list through the same listing as the REST API, so nothing reaches a browser that its user
may not see. Task events are matched against the caller with the task rule (``can_act_on``);
a cancelled or failed instance closes its open tasks without task events, so those are matched
through the instance's tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

from litestar.response import ServerSentEventMessage

from litestar_workflows.core.identity import can_act_on
from litestar_workflows.engine.events import WorkflowEvent
from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.events import SHUTDOWN_COMMENT, next_event
from litestar_workflows.web.identity import Identity

__all__ = ("INBOX_EVENT", "RECONNECT_MILLISECONDS", "inbox_stream")

INBOX_EVENT = "inbox"
"""The name of the event that tells a page to reload its inbox."""
RECONNECT_MILLISECONDS = 2000
"""How soon a browser opens a new stream after one ended (the ``retry`` field)."""

_TASK_EVENTS = frozenset({"task.created", "task.completed"})
_CLOSING_EVENTS = frozenset({"workflow.canceled", "workflow.failed"})


async def _concerns(api: WorkflowApi, identity: Identity, event: WorkflowEvent) -> bool:
    """True if ``event`` opened or closed a task ``identity`` may act on."""
    admin_role = api.admin_role
    if event.event_type in _TASK_EVENTS:
        task = await api.persistence.get_task(UUID(str(event.payload["task_id"])))
        return task is not None and can_act_on(task, identity, admin_role)
    if event.event_type in _CLOSING_EVENTS:
        tasks = await api.persistence.list_tasks(instance_id=event.instance_id)
        return any(can_act_on(task, identity, admin_role) for task in tasks)
    return False


async def inbox_stream(
    api: WorkflowApi, identity: Identity, *, lifetime: float, keepalive: float | None = None
) -> AsyncIterator[ServerSentEventMessage]:
    """``inbox`` events for ``identity`` for ``lifetime`` seconds (the browser then reconnects).

    The first message only sets the reconnection delay; a comment keeps an idle stream open every
    ``keepalive`` seconds (the app's ``sse_keepalive`` by default).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + lifetime
    keepalive = api.config.sse_keepalive if keepalive is None else keepalive
    ending = asyncio.ensure_future(api.streams_end.wait())  # the app shuts down: end at once
    try:
        async with api.event_bus.subscribe() as queue:
            yield ServerSentEventMessage(data=None, comment="inbox stream", retry=RECONNECT_MILLISECONDS)
            while (remaining := deadline - loop.time()) > 0:
                try:
                    event = await next_event(queue, ending, min(keepalive, remaining))
                except TimeoutError:
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
                    continue
                if event is None:
                    yield ServerSentEventMessage(data=None, comment=SHUTDOWN_COMMENT)
                    return
                if await _concerns(api, identity, event):
                    yield ServerSentEventMessage(data=event.event_type, event=INBOX_EVENT)
    finally:
        ending.cancel()
