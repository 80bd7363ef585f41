"""``Idempotency-Key`` on SQL persistence: one instance per (caller, key), across requests, apps and restarts.

The database is the only record: the key determines the instance id, so its primary key admits
one instance however the requests race. Concurrent requests run on the app's own event loop
through ``httpx.ASGITransport`` (the test client's transport sends one request at a time).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any, cast
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from litestar_workflows import (
    InMemoryPersistence,
    LocalExecutionEngine,
    WorkflowInstanceData,
    WorkflowPlugin,
    WorkflowRegistry,
)
from litestar_workflows.web.idempotency import (
    FINGERPRINT_METADATA_KEY,
    idempotent_instance_id,
    request_fingerprint,
    start_idempotently,
)
from tests.helpers import SetStep, chain
from tests.web.conftest import BOB, CAROL, AppFactory, Client, in_app

BODY: dict[str, Any] = {"workflow": "approval", "data": {"amount": 7, "note": "taxi"}}


def sql_app(make_app: AppFactory, database_url: str) -> Litestar:
    """An app with its own plugin, engine and persistence on ``database_url``."""
    return make_app(persistence=None, database_url=database_url)


def stored_instances(client: Client, app: Litestar) -> list[WorkflowInstanceData]:
    plugin = app.plugins.get(WorkflowPlugin)
    return in_app(client, plugin.persistence.list_instances)


def post_burst(client: Client, app: Litestar, count: int, headers: dict[str, str]) -> Future[list[httpx.Response]]:
    """Start ``count`` identical POSTs at once on the app's loop; the future has their responses."""

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=cast("Any", app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as direct:
            requests = [direct.post("/workflows/instances", json=BODY, headers=headers) for _ in range(count)]
            return list(await asyncio.gather(*requests))

    return client.blocking_portal.start_task_soon(burst)


async def test_same_key_twice_is_one_instance_in_the_database(make_app: AppFactory, database_url: str) -> None:
    app = sql_app(make_app, database_url)
    headers = {**BOB, "Idempotency-Key": "order-42"}
    async with AsyncTestClient(app) as client:
        first = await client.post("/workflows/instances", json=BODY, headers=headers)
        again = await client.post("/workflows/instances", json=BODY, headers=headers)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]
        assert again.headers["idempotency-replayed"] == "true"
        assert "idempotency-replayed" not in first.headers
        assert again.headers["location"] == first.headers["location"] == f"/workflows/instances/{first.json()['id']}"
        stored = stored_instances(client, app)
        assert [str(instance.id) for instance in stored] == [first.json()["id"]]
        fingerprint = request_fingerprint("approval", None, BODY["data"])
        assert stored[0].context.metadata[FINGERPRINT_METADATA_KEY] == fingerprint


async def test_same_key_with_another_request_is_422(make_app: AppFactory, database_url: str) -> None:
    app = sql_app(make_app, database_url)
    headers = {**BOB, "Idempotency-Key": "k1"}
    async with AsyncTestClient(app) as client:
        first = await client.post("/workflows/instances", json=BODY, headers=headers)
        assert first.status_code == 201
        for other in [
            {"workflow": "approval", "data": {"amount": 8, "note": "taxi"}},
            {"workflow": "open", "data": BODY["data"]},
            {"workflow": "approval", "version": "1", "data": BODY["data"]},
        ]:
            refused = await client.post("/workflows/instances", json=other, headers=headers)
            assert refused.status_code == 422, other
            assert "already used with a different request body" in refused.json()["detail"]
        # the order of object keys is not a difference
        reordered = {"data": {"note": "taxi", "amount": 7}, "workflow": "approval"}
        replay = await client.post("/workflows/instances", json=reordered, headers=headers)
        assert (replay.status_code, replay.json()["id"]) == (200, first.json()["id"])
        assert len(stored_instances(client, app)) == 1


async def test_two_callers_with_the_same_key_get_two_instances(make_app: AppFactory, database_url: str) -> None:
    app = sql_app(make_app, database_url)
    async with AsyncTestClient(app) as client:
        bob = await client.post("/workflows/instances", json=BODY, headers={**BOB, "Idempotency-Key": "same"})
        carol = await client.post("/workflows/instances", json=BODY, headers={**CAROL, "Idempotency-Key": "same"})
        assert (bob.status_code, carol.status_code) == (201, 201)
        assert bob.json()["id"] != carol.json()["id"]
        assert len(stored_instances(client, app)) == 2


async def test_twenty_racing_requests_start_one_instance(make_app: AppFactory, database_url: str) -> None:
    app = sql_app(make_app, database_url)
    async with AsyncTestClient(app) as client:
        responses = post_burst(client, app, 20, {**BOB, "Idempotency-Key": "burst"}).result(timeout=60)
        assert sorted(response.status_code for response in responses) == [200] * 19 + [201]
        assert len({response.json()["id"] for response in responses}) == 1
        assert [str(instance.id) for instance in stored_instances(client, app)] == [responses[0].json()["id"]]


async def test_two_apps_on_one_database_start_one_instance(make_app: AppFactory, database_url: str) -> None:
    first_app, second_app = sql_app(make_app, database_url), sql_app(make_app, database_url)
    headers = {**BOB, "Idempotency-Key": "shared"}
    async with AsyncTestClient(first_app) as first, AsyncTestClient(second_app) as second:
        started = await first.post("/workflows/instances", json=BODY, headers=headers)
        replayed = await second.post("/workflows/instances", json=BODY, headers=headers)
        assert (started.status_code, replayed.status_code) == (201, 200)
        assert replayed.json()["id"] == started.json()["id"]
        other_body = await second.post("/workflows/instances", json={**BODY, "data": {}}, headers=headers)
        assert other_body.status_code == 422

        # both apps race with one new key, ten requests each, at the same time
        racing = {**BOB, "Idempotency-Key": "race"}
        bursts = [post_burst(first, first_app, 10, racing), post_burst(second, second_app, 10, racing)]
        responses = [response for burst in bursts for response in burst.result(timeout=60)]
        assert sorted(response.status_code for response in responses) == [200] * 19 + [201]
        assert len({response.json()["id"] for response in responses}) == 1
        ids = {str(instance.id) for instance in stored_instances(second, second_app)}
        assert ids == {started.json()["id"], responses[0].json()["id"]}


async def test_a_key_survives_a_restart(make_app: AppFactory, database_url: str) -> None:
    headers = {**CAROL, "Idempotency-Key": "before-restart"}
    async with AsyncTestClient(sql_app(make_app, database_url)) as client:
        started = await client.post("/workflows/instances", json=BODY, headers=headers)
        assert started.status_code == 201
    restarted = sql_app(make_app, database_url)  # a new process: nothing in memory
    async with AsyncTestClient(restarted) as client:
        again = await client.post("/workflows/instances", json=BODY, headers=headers)
        assert (again.status_code, again.json()["id"]) == (200, started.json()["id"])
        assert len(stored_instances(client, restarted)) == 1


def test_the_instance_id_is_derived_from_caller_and_key() -> None:
    # A fixed value: a changed namespace or digest would make retries across an upgrade start twice.
    fingerprint = request_fingerprint("approval", None, {})
    assert idempotent_instance_id("bob", "order-42", fingerprint=fingerprint) == UUID(
        "35d8cf37-30d4-5c4a-b698-fb2602ef1e73"
    )
    other_request = request_fingerprint("approval", None, {"amount": 1})
    # an identified caller's key does not depend on the request (another body is a 422, not a new instance)
    assert idempotent_instance_id("bob", "order-42", fingerprint=other_request) == idempotent_instance_id(
        "bob", "order-42", fingerprint=fingerprint
    )
    anonymous = idempotent_instance_id(None, "order-42", fingerprint=fingerprint)
    assert anonymous != idempotent_instance_id("bob", "order-42", fingerprint=fingerprint)
    # an anonymous caller's does: different requests never share an instance
    assert anonymous != idempotent_instance_id(None, "order-42", fingerprint=other_request)
    assert idempotent_instance_id("bob", "order-42", fingerprint=fingerprint) != idempotent_instance_id(
        "bob", "order-43", fingerprint=fingerprint
    )
    assert anonymous.version == 5


async def test_a_database_error_from_a_concurrent_insert_counts_as_a_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A database error after which the instance exists (its COMMIT went through but the answer was
    # lost, say) is a repeat; without the row it is a real error.
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence())
    engine.registry.register_definition(chain("once", [SetStep("only", "ok", True)]))
    options: dict[str, Any] = {
        "caller": "bob",
        "key": "k",
        "workflow": "once",
        "version": None,
        "request_data": {},
        "initial_data": {},
    }
    first, replayed = await start_idempotently(engine, **options)
    assert not replayed

    async def unique_violation(*_args: Any, **_kwargs: Any) -> WorkflowInstanceData:
        msg = 'duplicate key value violates unique constraint "pk_workflow_instance"'
        raise RuntimeError(msg)

    monkeypatch.setattr(engine, "start_workflow_detailed", unique_violation)
    again, replayed = await start_idempotently(engine, **options)
    assert (again.instance.id, replayed) == (first.instance.id, True)
    with pytest.raises(RuntimeError, match="duplicate key"):  # no such instance: a real error
        await start_idempotently(engine, **{**options, "key": "other"})
    await engine.stop(0)
