"""The instance event stream (SSE) and ``Idempotency-Key`` on start."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast
from uuid import UUID

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from litestar_workflows import WorkflowPlugin
from tests.web.conftest import ALICE, BOB, CAROL, Client, as_user, in_app, open_task, start


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The events of an SSE body: type, id and decoded data (comments skipped)."""
    events: list[dict[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            events.append({"event": fields.get("event"), "id": fields.get("id"), "data": json.loads(fields["data"])})
    return events


async def test_stream_of_a_finished_instance_is_its_snapshot(client: Client) -> None:
    instance = await start(client, "auto")
    await asyncio.sleep(0.05)
    response = await client.get(f"/workflows/instances/{instance['id']}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert [event["event"] for event in events] == ["instance.snapshot"]
    assert events[0]["data"]["payload"]["status"] == "completed"
    assert events[0]["data"]["instance_id"] == instance["id"]


async def test_stream_follows_an_instance_until_it_completes(client: Client) -> None:
    instance = await start(client, "timed", {"pause": 0.3})
    response = await client.get(f"/workflows/instances/{instance['id']}/events")
    events = parse_sse(response.text)
    types = [event["event"] for event in events]
    assert types[0] == "instance.snapshot"
    assert types[-1] == "workflow.completed"
    assert {"step_name": "last", "attempt": 1, "status": "succeeded"} in [event["data"]["payload"] for event in events]
    assert [event["id"] for event in events] == [str(number) for number in range(1, len(events) + 1)]


async def test_stream_sees_a_task_completed_by_someone_else(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "approval")
    task = await open_task(client, plugin, instance["id"])

    async def complete_soon() -> None:
        await asyncio.sleep(0.2)
        await plugin.engine.complete_task(UUID(task["id"]), "bob", {"approved": True})

    # The test client blocks this loop while a request runs; the completion runs on the app's loop.
    client.blocking_portal.start_task_soon(complete_soon)
    stream = await client.get(f"/workflows/instances/{instance['id']}/events")
    events = parse_sse(stream.text)
    assert events[0]["data"]["payload"]["status"] == "waiting"
    by_type = {event["event"]: event["data"]["payload"] for event in events}
    assert by_type["task.completed"]["user_id"] == "bob"
    assert list(by_type)[-1] == "workflow.completed"


async def test_idle_stream_sends_keepalives_and_ends_when_cancelled_elsewhere(make_app: Any) -> None:
    app: Litestar = make_app(sse_keepalive=0.05)
    plugin = app.plugins.get(WorkflowPlugin)
    async with AsyncTestClient(app) as client:
        client.headers.update(ALICE)
        instance = await start(client, "approval")
        await open_task(client, plugin, instance["id"])

        async def cancel_soon() -> None:
            await asyncio.sleep(0.3)
            await plugin.engine.cancel_workflow(UUID(instance["id"]), "stop")

        client.blocking_portal.start_task_soon(cancel_soon)
        stream = await client.get(f"/workflows/instances/{instance['id']}/events")
        assert ": keep-alive" in stream.text
        assert parse_sse(stream.text)[-1]["event"] == "workflow.canceled"


async def test_same_key_returns_the_same_instance(client: Client) -> None:
    body = {"workflow": "approval", "data": {"amount": 7}}
    headers = {**BOB, "Idempotency-Key": "order-42"}
    first = await client.post("/workflows/instances", json=body, headers=headers)
    again = await client.post("/workflows/instances", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert "idempotency-replayed" not in first.headers
    assert again.headers["idempotency-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    listed = (await client.get("/workflows/instances", params={"workflow": "approval"}, headers=BOB)).json()
    assert listed["total"] == 1


async def test_concurrent_retries_start_one_instance(client: Client, app: Litestar) -> None:
    body = {"workflow": "auto", "data": {}}
    headers = {**BOB, "Idempotency-Key": "burst"}

    async def burst() -> list[httpx.Response]:
        # Five requests really at once, on the app's loop (the test client runs one at a time).
        transport = httpx.ASGITransport(app=cast("Any", app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as direct:
            requests = [direct.post("/workflows/instances", json=body, headers=headers) for _ in range(5)]
            return await asyncio.gather(*requests)

    responses = in_app(client, burst)
    assert sorted(response.status_code for response in responses) == [200, 200, 200, 200, 201]
    assert {response.json()["id"] for response in responses} == {responses[0].json()["id"]}
    assert (await client.get("/workflows/instances", headers=BOB)).json()["total"] == 1


async def test_key_reused_with_another_body_is_422(client: Client) -> None:
    headers = {**BOB, "Idempotency-Key": "k1"}
    await client.post("/workflows/instances", json={"workflow": "auto", "data": {"n": 1}}, headers=headers)
    other = await client.post("/workflows/instances", json={"workflow": "auto", "data": {"n": 2}}, headers=headers)
    assert other.status_code == 422
    assert "different request body" in other.json()["detail"]


async def test_keys_are_scoped_to_the_caller(client: Client) -> None:
    body = {"workflow": "auto"}
    bob = await client.post("/workflows/instances", json=body, headers={**BOB, "Idempotency-Key": "same"})
    carol = await client.post("/workflows/instances", json=body, headers={**CAROL, "Idempotency-Key": "same"})
    assert bob.json()["id"] != carol.json()["id"]


async def test_a_failed_start_does_not_burn_the_key(client: Client) -> None:
    headers = {**as_user("eve"), "Idempotency-Key": "retry-me"}
    missing = await client.post("/workflows/instances", json={"workflow": "nope"}, headers=headers)
    assert missing.status_code == 404
    bad = await client.post("/workflows/instances", json={"workflow": "auto", "x": 1}, headers=headers)
    assert bad.status_code == 400


async def test_bad_keys_are_400(client: Client) -> None:
    for key in ["", "x" * 300]:
        response = await client.post(
            "/workflows/instances", json={"workflow": "auto"}, headers={"Idempotency-Key": key}
        )
        assert response.status_code == 400, key
        assert response.json()["extra"][0]["key"] == "idempotency_key"
        assert response.json()["extra"][0]["source"] == "header"
