"""The inbox's server-sent events: an ``inbox`` event for each task the caller may act on that opens or closes.

Each stream's messages are collected while workflows run; the events of tasks of other groups (and
of other instances) never reach it, and no message names a task or an instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from litestar.response import ServerSentEventMessage

from litestar_workflows import InMemoryEventBus, InMemoryPersistence, LocalExecutionEngine, WorkflowRegistry
from litestar_workflows.ui.streams import INBOX_EVENT, RECONNECT_MILLISECONDS, inbox_stream
from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.events import SHUTDOWN_COMMENT
from litestar_workflows.web.identity import Identity
from tests.web.conftest import definitions, make_config

BOB = Identity("bob", frozenset({"managers"}))
CAROL = Identity("carol", frozenset({"finance"}))


async def _collect(stream: AsyncIterator[ServerSentEventMessage], into: list[ServerSentEventMessage]) -> None:
    async for message in stream:
        into.append(message)  # noqa: PERF401 - the test reads the list while the stream runs


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def _events(messages: list[ServerSentEventMessage]) -> list[Any]:
    return [message.data for message in messages if message.event == INBOX_EVENT]


async def test_each_inbox_hears_of_its_own_tasks_only() -> None:
    registry = WorkflowRegistry()
    for definition in definitions():
        registry.register_definition(definition)
    bus = InMemoryEventBus()
    engine = LocalExecutionEngine(registry, InMemoryPersistence(), bus)
    api = WorkflowApi(lambda: engine, bus, make_config())
    heard: dict[str, list[ServerSentEventMessage]] = {"bob": [], "carol": []}
    streams = [
        asyncio.create_task(_collect(inbox_stream(api, who, lifetime=60, keepalive=60), heard[who.user_id or ""]))
        for who in (BOB, CAROL)
    ]
    try:
        while len(bus._subscribers) < 2:  # both streams subscribed (they subscribe before their first message)
            await asyncio.sleep(0)
        approval = await engine.start_workflow("approval", {}, started_by="alice")  # a task for managers
        await engine.wait_for(approval.id, 5)
        [task] = await engine.get_tasks(approval.id)
        await engine.complete_task(task.id, BOB, {"approved": True})
        await engine.wait_for(approval.id, 5)
        cancelled = await engine.start_workflow("approval", {}, started_by="alice")
        await engine.wait_for(cancelled.id, 5)
        await engine.cancel_workflow(cancelled.id, "changed my mind")  # closes its task: no task event
        anyone = await engine.start_workflow("open", {}, started_by="alice")  # a task for everyone
        await engine.wait_for(anyone.id, 5)
        await asyncio.wait_for(
            _until(lambda: len(_events(heard["carol"])) >= 1 and len(_events(heard["bob"])) >= 5), 10
        )
    finally:
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        await engine.stop(0)
    assert _events(heard["bob"]) == [
        "task.created",
        "task.completed",
        "task.created",
        "workflow.canceled",
        "task.created",
    ]
    assert _events(heard["carol"]) == ["task.created"]  # only the task open to everyone
    first = heard["bob"][0]
    assert (first.retry, first.event) == (RECONNECT_MILLISECONDS, None)
    for message in heard["bob"]:
        assert str(approval.id) not in str(message.data) and str(task.id) not in str(message.data)


async def test_a_stream_ends_after_its_lifetime_and_keeps_alive_meanwhile() -> None:
    bus = InMemoryEventBus()
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence(), bus)
    api = WorkflowApi(lambda: engine, bus, make_config())
    messages = [message async for message in inbox_stream(api, BOB, lifetime=0.05, keepalive=0.01)]
    assert messages[0].retry == RECONNECT_MILLISECONDS
    assert all(message.comment == "keep-alive" for message in messages[1:])
    assert len(messages) >= 2
    assert not bus._subscribers


async def test_a_stream_ends_at_once_when_the_app_shuts_down() -> None:
    bus = InMemoryEventBus()
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence(), bus)
    api = WorkflowApi(lambda: engine, bus, make_config())
    api.streams_end.reset()
    messages: list[ServerSentEventMessage] = []
    collecting = asyncio.create_task(_collect(inbox_stream(api, BOB, lifetime=600, keepalive=600), messages))
    await _until(lambda: messages)
    api.streams_end.now()  # what the plugin does on SIGTERM and at shutdown
    await asyncio.wait_for(collecting, 5)  # without it, the stream would run for its whole lifetime
    assert messages[-1].comment == SHUTDOWN_COMMENT
    assert not bus._subscribers
