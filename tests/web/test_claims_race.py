"""Claiming over HTTP: one winner among concurrent claims, 409 naming the holder, ``mine`` includes claims.

The concurrent requests run on the app's own event loop through ``httpx.ASGITransport``: the
test client's transport is synchronous (each request blocks until the app answered), so
``asyncio.gather`` over ``AsyncTestClient`` calls would send them one after another.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from litestar_workflows import TaskStatus, WorkflowPlugin
from tests.web.conftest import ADMIN, ALICE, BOB, AppFactory, Client, as_user, in_app, open_task, start

MANAGERS = [as_user(f"manager{number:02d}", "managers") for number in range(20)]


def concurrently(
    client: Client, app: Litestar, requests: list[tuple[str, dict[str, Any] | None, dict[str, str]]]
) -> list[httpx.Response]:
    """POST every (url, json body, headers) at the same time, on the app's loop."""

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=cast("Any", app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as direct:
            return list(
                await asyncio.gather(*(direct.post(url, json=body, headers=headers) for url, body, headers in requests))
            )

    return in_app(client, burst)


def _one_winner(responses: list[httpx.Response]) -> str:
    """One 200, every other response a 409 naming the winner; returns the winner."""
    won = [response for response in responses if response.status_code == 200]
    lost = [response for response in responses if response.status_code == 409]
    assert len(won) == 1, [response.status_code for response in responses]
    assert len(lost) == len(responses) - 1, [response.text for response in responses if response.status_code != 409]
    winner: str = won[0].json()["claimed_by"]
    assert winner in {headers["X-User"] for headers in MANAGERS}
    for response in lost:
        assert response.json()["extra"] == {"claimed_by": winner}
        assert f"claimed by {winner!r}" in response.json()["detail"]
    return winner


@pytest.fixture
async def sql_client(make_app: AppFactory, database_url: str) -> AsyncIterator[Client]:
    """A client of an app on SQL persistence (a SQLite file, or PostgreSQL)."""
    async with AsyncTestClient(make_app(persistence=None, database_url=database_url)) as client:
        client.headers.update(ALICE)
        yield client


async def _approval_task(client: Client, plugin: WorkflowPlugin) -> str:
    instance = await start(client, "approval", {"amount": 10})
    task: dict[str, Any] = await open_task(client, plugin, instance["id"])
    return str(task["id"])


async def _claim_race(client: Client) -> None:
    app = cast("Litestar", client.app)
    task_id = await _approval_task(client, app.plugins.get(WorkflowPlugin))
    url = f"/workflows/tasks/{task_id}/claim"
    winner = _one_winner(concurrently(client, app, [(url, None, headers) for headers in MANAGERS]))
    assert (await client.get(f"/workflows/tasks/{task_id}", headers=ADMIN)).json()["claimed_by"] == winner


async def test_twenty_concurrent_claims_on_sql_have_one_winner(sql_client: Client) -> None:
    await _claim_race(sql_client)


async def test_twenty_concurrent_claims_in_memory_have_one_winner(client: Client) -> None:
    await _claim_race(client)


async def _completion_race(client: Client) -> None:
    app = cast("Litestar", client.app)
    task_id = await _approval_task(client, app.plugins.get(WorkflowPlugin))
    url = f"/workflows/tasks/{task_id}/complete"
    responses = concurrently(client, app, [(url, {"approved": True}, headers) for headers in MANAGERS])
    done = [response for response in responses if response.status_code == 200]
    assert len(done) == 1, [response.status_code for response in responses]
    assert {response.status_code for response in responses} == {200, 409}
    task = (await client.get(f"/workflows/tasks/{task_id}", headers=ADMIN)).json()
    assert task["status"] == "completed"
    assert task["completed_by"] == done[0].json()["completed_by"]


async def test_twenty_concurrent_completions_on_sql_have_one_winner(sql_client: Client) -> None:
    await _completion_race(sql_client)


async def test_twenty_concurrent_completions_in_memory_have_one_winner(client: Client) -> None:
    await _completion_race(client)


async def test_completing_a_task_claimed_by_someone_else_is_409(client: Client, plugin: WorkflowPlugin) -> None:
    task_id = await _approval_task(client, plugin)
    await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)
    other = MANAGERS[0]
    blocked = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True}, headers=other)
    assert blocked.status_code == 409
    assert blocked.json()["extra"] == {"claimed_by": "bob"}
    taken = await client.post(f"/workflows/tasks/{task_id}/claim", headers=other)
    assert taken.status_code == 409
    assert taken.json()["extra"] == {"claimed_by": "bob"}
    # an admin may complete it anyway
    done = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": False}, headers=ADMIN)
    assert done.status_code == 200
    assert done.json()["completed_by"] == "root"


async def test_invalid_completion_does_not_keep_a_claim(client: Client, plugin: WorkflowPlugin) -> None:
    task_id = await _approval_task(client, plugin)
    refused = await client.post(f"/workflows/tasks/{task_id}/complete", json={"comment": 1}, headers=BOB)
    assert refused.status_code == 400
    task = (await client.get(f"/workflows/tasks/{task_id}", headers=BOB)).json()
    assert (task["status"], task["claimed_by"]) == ("open", None)
    claimed = await client.post(f"/workflows/tasks/{task_id}/claim", headers=MANAGERS[0])
    assert claimed.status_code == 200


async def test_release_only_by_the_claimer_or_an_admin(client: Client, plugin: WorkflowPlugin) -> None:
    task_id = await _approval_task(client, plugin)
    await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)
    assert (await client.post(f"/workflows/tasks/{task_id}/release", headers=MANAGERS[0])).status_code == 403
    assert (await client.get(f"/workflows/tasks/{task_id}", headers=BOB)).json()["claimed_by"] == "bob"
    released = await client.post(f"/workflows/tasks/{task_id}/release", headers=ADMIN)
    assert (released.status_code, released.json()["claimed_by"]) == (200, None)


async def test_mine_includes_tasks_the_caller_claimed(client: Client, plugin: WorkflowPlugin) -> None:
    offered = await _approval_task(client, plugin)  # offered to the managers group
    assigned = await start(client, "assigned", {"owner": "bob"})
    assigned_task = await open_task(client, plugin, assigned["id"])

    async def mine(headers: dict[str, str]) -> list[str]:
        body = (await client.get("/workflows/tasks", params={"mine": "true"}, headers=headers)).json()
        assert body["total"] == len(body["items"])
        return [item["id"] for item in body["items"]]

    assert await mine(BOB) == [assigned_task["id"]]
    await client.post(f"/workflows/tasks/{offered}/claim", headers=BOB)
    assert await mine(BOB) == [offered, assigned_task["id"]]
    assert await mine(MANAGERS[0]) == []  # visible to them, but neither assigned to nor claimed by them
    only_assigned = await client.get("/workflows/tasks", params={"mine": "true", "assignee": "bob"}, headers=BOB)
    assert [item["id"] for item in only_assigned.json()["items"]] == [assigned_task["id"]]
    await client.post(f"/workflows/tasks/{offered}/release", headers=BOB)
    assert await mine(BOB) == [assigned_task["id"]]
    await client.post(f"/workflows/tasks/{assigned_task['id']}/complete", json={}, headers=BOB)
    done = (await client.get("/workflows/tasks", params={"mine": "true", "status": "completed"}, headers=BOB)).json()
    assert [item["id"] for item in done["items"]] == [assigned_task["id"]]
    stored = in_app(client, plugin.persistence.list_tasks)
    assert [task.status for task in stored if str(task.id) == offered] == [TaskStatus.OPEN]
