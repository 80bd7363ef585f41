"""``/workflows/instances``: start, list, detail, cancel, retry, and the error cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from litestar_workflows import WorkflowPlugin
from tests.web.conftest import ADMIN, ALICE, BOB, Client, Flaky, in_app, open_task, settle, start


async def test_start_returns_201_the_instance_and_its_location(client: Client, plugin: WorkflowPlugin) -> None:
    response = await client.post("/workflows/instances", json={"workflow": "auto", "data": {"x": 1}})
    assert response.status_code == 201
    body = response.json()
    assert body["workflow"] == "auto"
    assert body["version"] == "1"
    assert body["data"]["x"] == 1
    assert response.headers["location"] == f"/workflows/instances/{body['id']}"
    await settle(client, plugin, body["id"])
    detail = (await client.get(response.headers["location"])).json()
    assert detail["status"] == "completed"
    assert detail["data"] == {"x": 1, "a": 1, "b": 2}
    assert [(step["step"], step["status"]) for step in detail["history"]] == [
        ("one", "succeeded"),
        ("two", "succeeded"),
    ]


async def test_start_a_given_version(client: Client, plugin: WorkflowPlugin) -> None:
    old = (await client.post("/workflows/instances", json={"workflow": "versioned", "version": "1"})).json()
    new = (await client.post("/workflows/instances", json={"workflow": "versioned"})).json()
    assert (old["version"], new["version"]) == ("1", "2")


async def test_start_unknown_workflow_or_version_is_404(client: Client) -> None:
    unknown = await client.post("/workflows/instances", json={"workflow": "nope"})
    assert unknown.status_code == 404
    assert unknown.json() == {"status_code": 404, "detail": "workflow 'nope' is not registered"}
    version = await client.post("/workflows/instances", json={"workflow": "auto", "version": "5"})
    assert version.status_code == 404


async def test_bad_start_bodies_are_400_with_field_details(client: Client) -> None:
    # (body, key, words in the message): missing and unknown fields are reported on the body itself
    cases: list[tuple[Any, str, str]] = [
        ({"workflow": "auto", "unexpected": 1}, "data", "unknown field `unexpected`"),
        ({"data": {}}, "data", "missing required field `workflow`"),
        ({"workflow": 5}, "workflow", "Expected `str`"),
        ({"workflow": ""}, "workflow", "length >= 1"),
        ({"workflow": "auto", "data": [1, 2]}, "data", "Expected `object`, got `array`"),
        ([1, 2, 3], "data", "Expected `object`"),
    ]
    for body, key, words in cases:
        response = await client.post("/workflows/instances", json=body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()
        assert error["status_code"] == 400
        assert error["detail"] == "Validation failed for POST /workflows/instances"
        assert error["extra"][0]["key"] == key, error
        assert words in error["extra"][0]["message"], error
        assert error["extra"][0]["source"] == "body"


async def test_malformed_json_is_400(client: Client) -> None:
    response = await client.post(
        "/workflows/instances", content=b'{"workflow": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["status_code"] == 400


async def test_body_over_the_limit_is_413(make_app: Any) -> None:
    app: Litestar = make_app(max_body_size=200)
    async with AsyncTestClient(app) as client:
        client.headers.update(ALICE)
        small = await client.post("/workflows/instances", json={"workflow": "auto", "data": {"x": "y" * 50}})
        assert small.status_code == 201
        large = await client.post("/workflows/instances", json={"workflow": "auto", "data": {"x": "y" * 500}})
        assert large.status_code == 413
        assert large.json()["status_code"] == 413
        assert len(in_app(client, app.plugins.get(WorkflowPlugin).persistence.list_instances)) == 1


async def test_detail_has_status_data_history_and_open_tasks(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "approval", {"amount": 3})
    task = await open_task(client, plugin, instance["id"])
    detail = (await client.get(f"/workflows/instances/{instance['id']}")).json()
    assert detail["status"] == "waiting"
    assert detail["active_steps"] == ["approve"]
    assert detail["current_step"] == "approve"
    assert detail["data"] == {"amount": 3, "submitted": True}
    assert detail["history"][0]["step"] == "submit"
    assert detail["history"][0]["attempt"] == 1
    assert task["step"] == "approve"
    assert task["candidate_groups"] == ["managers"]
    assert task["status"] == "open"


async def test_a_start_answers_with_its_task_from_the_commit(
    client: Client, plugin: WorkflowPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreadable(_store: object, **_filters: Any) -> list[Any]:
        msg = "the start's answer must not read the tasks back"
        raise AssertionError(msg)

    monkeypatch.setattr(type(plugin.persistence), "list_tasks", unreadable)
    started = await start(client, "open", headers=BOB)  # the first step is a human task
    [task] = started["open_tasks"]
    assert (started["status"], task["step"], task["status"]) == ("waiting", "anyone", "open")
    monkeypatch.undo()
    detail = (await client.get(f"/workflows/instances/{started['id']}", headers=BOB)).json()
    assert detail["open_tasks"] == started["open_tasks"]


async def test_unknown_instance_is_404_and_a_bad_id_400(client: Client) -> None:
    missing = "00000000-0000-0000-0000-000000000001"
    for method, url in [
        ("GET", f"/workflows/instances/{missing}"),
        ("POST", f"/workflows/instances/{missing}/retry"),
        ("GET", f"/workflows/instances/{missing}/events"),
    ]:
        response = await client.request(method, url)
        assert response.status_code == 404, url
        assert response.json()["detail"] == f"workflow instance {missing} not found"
    cancel = await client.post(f"/workflows/instances/{missing}/cancel", json={"reason": "x"})
    assert cancel.status_code == 404
    assert (await client.get("/workflows/instances/42")).status_code == 404  # not a UUID: no such route


async def test_list_filters_and_paginates(client: Client, plugin: WorkflowPlugin) -> None:
    before = datetime.now(UTC)
    ids = [(await start(client, "auto"))["id"] for _ in range(3)]
    approval = await start(client, "approval")
    for instance_id in [*ids, approval["id"]]:
        await settle(client, plugin, instance_id)

    page = (await client.get("/workflows/instances", params={"limit": 2})).json()
    assert page["total"] == 4
    assert page["limit"] == 2
    assert page["offset"] == 0
    assert [item["id"] for item in page["items"]] == [approval["id"], ids[2]]  # newest first
    rest = (await client.get("/workflows/instances", params={"limit": 2, "offset": 2})).json()
    assert [item["id"] for item in rest["items"]] == [ids[1], ids[0]]

    autos = (await client.get("/workflows/instances", params={"workflow": "auto"})).json()
    assert autos["total"] == 3
    waiting = (await client.get("/workflows/instances", params={"status": "waiting"})).json()
    assert [item["id"] for item in waiting["items"]] == [approval["id"]]
    assert waiting["items"][0]["active_steps"] == ["approve"]
    assert "data" not in waiting["items"][0]

    after = (await client.get("/workflows/instances", params={"started_after": before.isoformat()})).json()
    assert after["total"] == 4
    future = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None)  # naive: read as UTC
    later = (await client.get("/workflows/instances", params={"started_after": future.isoformat()})).json()
    assert later["total"] == 0
    earlier = (await client.get("/workflows/instances", params={"started_before": before.isoformat()})).json()
    assert earlier["total"] == 0


async def test_bad_list_parameters_are_400(client: Client) -> None:
    for params in [
        {"status": "sleeping"},
        {"limit": "0"},
        {"limit": "501"},
        {"offset": "-1"},
        {"limit": "many"},
        {"started_after": "yesterday"},
    ]:
        response = await client.get("/workflows/instances", params=params)
        assert response.status_code == 400, params
        assert response.json()["extra"][0]["key"] == next(iter(params))
        assert response.json()["extra"][0]["source"] == "query"


async def test_cancel_then_cancel_again_is_409(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "approval")
    await open_task(client, plugin, instance["id"])
    response = await client.post(f"/workflows/instances/{instance['id']}/cancel", json={"reason": "duplicate"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "canceled"
    assert body["cancel_reason"] == "duplicate"
    assert body["open_tasks"] == []
    again = await client.post(f"/workflows/instances/{instance['id']}/cancel", json={"reason": "again"})
    assert again.status_code == 409
    assert "cannot be cancelled" in again.json()["detail"]


async def test_cancel_needs_a_reason(client: Client) -> None:
    instance = await start(client, "approval")
    for body in [{}, {"reason": ""}, {"reason": "x", "force": True}]:
        response = await client.post(f"/workflows/instances/{instance['id']}/cancel", json=body)
        assert response.status_code == 400, body


async def test_retry_a_failed_instance(client: Client, plugin: WorkflowPlugin) -> None:
    Flaky.fixed = False
    try:
        instance = await start(client, "flaky")
        await settle(client, plugin, instance["id"])
        failed = (await client.get(f"/workflows/instances/{instance['id']}")).json()
        assert failed["status"] == "failed"
        assert "downstream unavailable" in failed["error"]
        Flaky.fixed = True
        response = await client.post(f"/workflows/instances/{instance['id']}/retry", headers=ADMIN)
        assert response.status_code == 200
        await settle(client, plugin, instance["id"])
        done = (await client.get(f"/workflows/instances/{instance['id']}")).json()
        assert done["status"] == "completed"
        assert [step["status"] for step in done["history"]] == ["failed", "succeeded", "succeeded"]
    finally:
        Flaky.fixed = False


async def test_retry_of_an_instance_that_did_not_fail_is_409(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "auto")
    await settle(client, plugin, instance["id"])
    response = await client.post(f"/workflows/instances/{instance['id']}/retry", headers=ADMIN)
    assert response.status_code == 409
    assert "only failed instances can be retried" in response.json()["detail"]


async def test_completed_instance_cannot_be_cancelled(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "auto")
    await settle(client, plugin, instance["id"])
    response = await client.post(f"/workflows/instances/{instance['id']}/cancel", json={"reason": "late"})
    assert response.status_code == 409


async def test_started_by_key_records_the_caller_not_the_body(make_app: Any) -> None:
    app: Litestar = make_app(started_by_key="requester", allow_anonymous=True)
    async with AsyncTestClient(app) as client:
        spoofed = await start(client, "auto", {"requester": "mallory"}, headers=BOB)
        assert spoofed["data"]["requester"] == "bob"
        anonymous = await start(client, "auto", {"requester": "mallory"})
        assert anonymous["data"]["requester"] is None
