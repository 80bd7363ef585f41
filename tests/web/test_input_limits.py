"""Input the API cannot store is a 400 (or a 401 for an unusable identity), on every backend, and writes nothing.

A NUL character anywhere in a body (start data, form data, a cancel reason, a reassign target)
or in a filter (a query parameter, which PostgreSQL refuses even to compare),
values nested deeper than ``MAX_NESTING``, bodies that are not valid UTF-8 or too deep for the
JSON decoder; a caller whose user id cannot be stored. Each scenario runs in memory and on SQL
(a SQLite file and PostgreSQL, which is the backend that would refuse these values itself).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import unquote

import httpx
import pytest
from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.testing import AsyncTestClient

from litestar_workflows import WorkflowPlugin
from litestar_workflows.core.values import MAX_NAME_LENGTH, MAX_NESTING
from litestar_workflows.web.identity import ANONYMOUS, Identity
from tests.web.conftest import ADMIN, BOB, AppFactory, Client, as_user, open_task, start
from tests.web.test_claims_race import concurrently

ALICE = as_user("alice")


def encoded_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """The caller named in ``X-User``, percent-decoded (so a test can send any character)."""
    user = connection.headers.get("x-user")
    if not user:
        return ANONYMOUS
    groups = frozenset(unquote(g) for g in connection.headers.get("x-groups", "").split(",") if g)
    return Identity(unquote(user), groups)


@pytest.fixture
async def memory_client(make_app: AppFactory) -> AsyncIterator[Client]:
    async with AsyncTestClient(make_app(identity_resolver=encoded_identity)) as client:
        yield client


@pytest.fixture
async def sql_client(make_app: AppFactory, database_url: str) -> AsyncIterator[Client]:
    app = make_app(persistence=None, database_url=database_url, identity_resolver=encoded_identity)
    async with AsyncTestClient(app) as client:
        yield client


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def plugin_of(client: Client) -> WorkflowPlugin:
    return cast("Litestar", client.app).plugins.get(WorkflowPlugin)


async def instance_count(client: Client) -> int:
    listed = await client.get("/workflows/instances", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    total: int = listed.json()["total"]
    return total


def assert_400_naming(response: httpx.Response, key: str | None, fragment: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status_code"] == 400
    assert fragment in body["detail"]
    [problem] = body["extra"]
    assert problem.get("key") == key
    assert fragment in problem["message"]


# --- start ------------------------------------------------------------------------------------


async def _starts_with_unstorable_data_are_refused(client: Client) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"note": "a\x00b"}, "data.note", "NUL"),
        ({"items": [{"text": "ok"}, {"text": "\x00"}]}, "data.items[1].text", "NUL"),
        ({"bad\x00key": 1}, "data", "NUL"),
        ({"tree": nested(MAX_NESTING + 1)}, "data.tree" + "[0]" * MAX_NESTING, "nested too deeply"),
    ]
    for data, key, fragment in cases:
        response = await client.post("/workflows/instances", json={"workflow": "auto", "data": data}, headers=ALICE)
        assert_400_naming(response, key, fragment)
    refused = await client.post("/workflows/instances", json={"workflow": "auto\x00"}, headers=ALICE)
    assert_400_naming(refused, "workflow", "NUL")
    assert await instance_count(client) == 0
    at_the_limit = await start(client, "auto", {"tree": nested(MAX_NESTING)}, ALICE)
    assert at_the_limit["data"]["tree"] == nested(MAX_NESTING)
    assert await instance_count(client) == 1


async def test_starts_with_unstorable_data_are_refused_in_memory(memory_client: Client) -> None:
    await _starts_with_unstorable_data_are_refused(memory_client)


async def test_starts_with_unstorable_data_are_refused_on_sql(sql_client: Client) -> None:
    await _starts_with_unstorable_data_are_refused(sql_client)


async def _bodies_the_decoder_cannot_take_are_400(client: Client) -> None:
    instance = await start(client, "approval", {"amount": 1}, ALICE)
    task = await open_task(client, plugin_of(client), instance["id"])
    endpoints = [
        ("/workflows/instances", '{"workflow": "auto", "data": {"x": "%s"}}'),
        (f"/workflows/instances/{instance['id']}/cancel", '{"reason": "%s"}'),
        (f"/workflows/tasks/{task['id']}/complete", '{"approved": true, "comment": "%s"}'),
        (f"/workflows/tasks/{task['id']}/reassign", '{"assignee": "%s"}'),
    ]
    headers = {**ADMIN, "Content-Type": "application/json"}
    for url, template in endpoints:
        invalid_utf8 = (template % "HERE").encode().replace(b"HERE", b"caf\xe9\xff")  # Latin-1 bytes
        response = await client.post(url, content=invalid_utf8, headers=headers)
        assert response.status_code == 400, (url, response.text)
        assert response.json()["detail"].endswith("the body is not valid UTF-8"), response.text
        # Far deeper than the decoder goes (it stops at the interpreter's recursion limit).
        too_deep = (template % "DEEP").replace('"DEEP"', "[" * 50_000 + "]" * 50_000)
        response = await client.post(url, content=too_deep.encode(), headers=headers)
        assert response.status_code == 400, (url, response.text)
        assert "nested too deeply" in response.json()["detail"]
        # No body (as a cross-site POST without a body and without a Content-Type sends), or a bare null.
        for empty, content_type in ((b"", None), (b"", "application/json"), (b"null", "application/json")):
            typed = {} if content_type is None else {"Content-Type": content_type}
            response = await client.post(url, content=empty, headers={**ADMIN, **typed})
            assert response.status_code == 400, (url, empty, response.text)
            assert response.json()["detail"].endswith("the body is empty; send a JSON object"), response.text
    detail = (await client.get(f"/workflows/instances/{instance['id']}", headers=ADMIN)).json()
    assert detail["status"] == "waiting"
    assert [(t["id"], t["assignee"], t["claimed_by"]) for t in detail["open_tasks"]] == [(task["id"], None, None)]
    assert await instance_count(client) == 1


async def test_bodies_the_decoder_cannot_take_are_400_in_memory(memory_client: Client) -> None:
    await _bodies_the_decoder_cannot_take_are_400(memory_client)


async def test_bodies_the_decoder_cannot_take_are_400_on_sql(sql_client: Client) -> None:
    await _bodies_the_decoder_cannot_take_are_400(sql_client)


# --- cancel, complete, reassign ---------------------------------------------------------------


async def _instance_and_task_inputs_with_nul_are_refused(client: Client) -> None:
    instance = await start(client, "approval", {"amount": 1}, ALICE)
    task = await open_task(client, plugin_of(client), instance["id"])
    cancel = await client.post(f"/workflows/instances/{instance['id']}/cancel", json={"reason": "x\x00"}, headers=ADMIN)
    assert_400_naming(cancel, "reason", "NUL")
    complete_url = f"/workflows/tasks/{task['id']}/complete"
    completed = await client.post(complete_url, json={"approved": True, "comment": "ok\x00"}, headers=BOB)
    assert_400_naming(completed, "comment", "NUL")
    deep = await client.post(complete_url, json={"approved": True, "comment": nested(MAX_NESTING + 2)}, headers=BOB)
    assert deep.status_code == 400, deep.text
    assert "nested too deeply" in deep.json()["detail"]
    reassign_url = f"/workflows/tasks/{task['id']}/reassign"
    reassigned = await client.post(reassign_url, json={"assignee": "carol\x00"}, headers=ADMIN)
    assert_400_naming(reassigned, "assignee", "NUL")
    too_long = await client.post(reassign_url, json={"assignee": "c" * (MAX_NAME_LENGTH + 1)}, headers=ADMIN)
    assert too_long.status_code == 400, too_long.text
    assert too_long.json()["extra"] == [
        {"message": "Expected `str` of length <= 200", "key": "assignee", "source": "body"}
    ]
    detail = (await client.get(f"/workflows/instances/{instance['id']}", headers=ADMIN)).json()
    assert (detail["status"], detail["cancel_reason"]) == ("waiting", None)
    [still_open] = detail["open_tasks"]
    assert (still_open["status"], still_open["assignee"], still_open["claimed_by"]) == ("open", None, None)
    for url in (
        "/workflows/instances?workflow=auto%00",
        "/workflows/tasks?assignee=bob%00",
        "/workflows/tasks?candidate_group=managers%00",
        "/workflows/tasks?workflow=approval%00",
    ):
        filtered = await client.get(url, headers=ADMIN)
        assert filtered.status_code == 400, (url, filtered.text)
        assert filtered.json()["extra"][0]["key"] == url.split("?")[1].split("=")[0]
    done = await client.post(complete_url, json={"approved": True, "comment": "fine"}, headers=BOB)
    assert done.status_code == 200, done.text


async def test_instance_and_task_inputs_with_nul_are_refused_in_memory(memory_client: Client) -> None:
    await _instance_and_task_inputs_with_nul_are_refused(memory_client)


async def test_instance_and_task_inputs_with_nul_are_refused_on_sql(sql_client: Client) -> None:
    await _instance_and_task_inputs_with_nul_are_refused(sql_client)


# --- the caller's identity --------------------------------------------------------------------


async def _identities_that_cannot_be_stored_are_401(client: Client) -> None:
    instance = await start(client, "approval", {"amount": 1}, ALICE)
    task = await open_task(client, plugin_of(client), instance["id"])
    unusable = [
        as_user("m" * (MAX_NAME_LENGTH + 1), "managers"),
        as_user("bob%00", "managers"),
        as_user("bob", "managers%00"),
    ]
    for headers in unusable:
        for url, body in [
            ("/workflows/instances", {"workflow": "auto"}),
            (f"/workflows/tasks/{task['id']}/claim", None),
            (f"/workflows/tasks/{task['id']}/complete", {"approved": True}),
        ]:
            response = await client.post(url, json=body, headers=headers)
            assert response.status_code == 401, (url, response.text)
            assert response.json()["detail"].startswith("the caller's identity cannot be used: ")
    assert await instance_count(client) == 1
    [still_open] = (await client.get(f"/workflows/instances/{instance['id']}", headers=ADMIN)).json()["open_tasks"]
    assert (still_open["status"], still_open["claimed_by"]) == ("open", None)
    longest = as_user("m" * MAX_NAME_LENGTH, "managers")
    done = await client.post(f"/workflows/tasks/{task['id']}/complete", json={"approved": True}, headers=longest)
    assert done.status_code == 200, done.text
    assert done.json()["completed_by"] == "m" * MAX_NAME_LENGTH


async def test_identities_that_cannot_be_stored_are_401_in_memory(memory_client: Client) -> None:
    await _identities_that_cannot_be_stored_are_401(memory_client)


async def test_identities_that_cannot_be_stored_are_401_on_sql(sql_client: Client) -> None:
    await _identities_that_cannot_be_stored_are_401(sql_client)


# --- the attack that started it: bad starts among many good ones -------------------------------


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_nul_starts_among_hundreds_of_concurrent_good_starts_hurt_nobody(sql_client: Client) -> None:
    """Ten starts with a NUL character among 300 good ones, all at once: the ten get a 400, every other a 201.

    Before, PostgreSQL refused the NUL starts inside group commits and the whole groups failed.
    """
    url = "/workflows/instances"
    requests: list[tuple[str, dict[str, Any] | None, dict[str, str]]] = [
        (url, {"workflow": "auto", "data": {"n": number, "note": "fine"}}, ALICE) for number in range(300)
    ]
    for number in range(10):
        requests.insert(number * 30 + 7, (url, {"workflow": "auto", "data": {"n": -1, "note": "x\x00"}}, ALICE))
    responses = concurrently(sql_client, sql_client.app, requests)
    statuses = [response.status_code for response in responses]
    assert sorted(set(statuses)) == [201, 400], [r.text for r in responses if r.status_code not in {201, 400}]
    for (_, body, _), response in zip(requests, responses, strict=True):
        assert body is not None
        expected = 400 if body["data"]["n"] == -1 else 201
        assert response.status_code == expected, response.text
    assert await instance_count(sql_client) == 300
