"""One authorization policy for every endpoint: tried as the wrong user, as nobody, and as the right one.

Alice starts the instances here; bob (managers) and carol (finance) try to see and change them;
root is the admin. Every test goes through the REST API of the test app (in-memory persistence,
callers named by headers); listings are also checked on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from litestar_workflows import WorkflowPlugin
from litestar_workflows.core.identity import Identity
from litestar_workflows.policy import WorkflowPolicy
from tests.web.conftest import (
    ADMIN,
    ALICE,
    API_OPERATIONS,
    BOB,
    CAROL,
    NOBODY,
    AppFactory,
    Client,
    Flaky,
    as_user,
    in_app,
    make_config,
    open_task,
    operation_body,
    operation_url,
    settle,
    start,
)


async def _alices_approval(client: Client, plugin: WorkflowPlugin) -> tuple[str, str]:
    instance = await start(client, "approval", {"amount": 10}, headers=ALICE)
    task = await open_task(client, plugin, instance["id"])
    return instance["id"], task["id"]


def test_every_operation_of_the_api_is_covered() -> None:
    assert len(API_OPERATIONS) >= 14  # definitions 3, instances 6, tasks 6 (a new one joins automatically)


@pytest.mark.parametrize(("method", "template"), API_OPERATIONS)
async def test_anonymous_callers_get_401_everywhere(
    client: Client, plugin: WorkflowPlugin, method: str, template: str
) -> None:
    instance_id, task_id = await _alices_approval(client, plugin)
    response = await client.request(
        method, operation_url(template, instance_id, task_id), json=operation_body(method, template), headers=NOBODY
    )
    assert response.status_code == 401, response.text
    assert response.json() == {"status_code": 401, "detail": "the workflow API needs an authenticated caller"}
    # nothing happened: one instance, still waiting for its unclaimed, unassigned task
    assert len(in_app(client, plugin.persistence.list_instances)) == 1
    task = (await client.get(f"/workflows/tasks/{task_id}", headers=ADMIN)).json()
    assert (task["status"], task["claimed_by"], task["assignee"]) == ("open", None, None)


async def test_bob_can_neither_see_nor_touch_alices_instance(client: Client, plugin: WorkflowPlugin) -> None:
    # Assigned to carol: bob, a manager, has nothing to do with it.
    instance = await start(client, "assigned", {"owner": "carol"}, headers=ALICE)
    await settle(client, plugin, instance["id"])
    url = f"/workflows/instances/{instance['id']}"
    graph = "/workflows/definitions/assigned/graph"
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", url, {}),
        ("GET", graph, {"params": {"instance_id": instance["id"]}}),
        ("POST", f"{url}/cancel", {"json": {"reason": "mine now"}}),
        ("POST", f"{url}/retry", {}),
        ("GET", f"{url}/events", {}),  # last: were it allowed, the stream would run until the instance ends
    ]
    for method, target, arguments in attempts:
        response = await client.request(method, target, headers=BOB, **arguments)
        assert response.status_code == 403, (target, response.text)
        assert response.json()["detail"] == f"user 'bob' may not see instance {instance['id']}"
    listing = (await client.get("/workflows/instances", headers=BOB)).json()
    assert (listing["items"], listing["total"]) == ([], 0)
    assert (await client.get(url, headers=ALICE)).json()["status"] == "waiting"  # not cancelled


async def test_whoever_may_act_on_a_task_sees_the_instance_even_after_completing_it(
    client: Client, plugin: WorkflowPlugin
) -> None:
    instance = await start(client, "assigned", {"owner": "carol"}, headers=ALICE)
    task = await open_task(client, plugin, instance["id"])
    url = f"/workflows/instances/{instance['id']}"
    assert (await client.get(url, headers=CAROL)).status_code == 200
    done = await client.post(f"/workflows/tasks/{task['id']}/complete", json={}, headers=CAROL)
    assert done.status_code == 200
    await settle(client, plugin, instance["id"])
    detail = await client.get(url, headers=CAROL)
    assert (detail.status_code, detail.json()["status"]) == (200, "completed")
    graph = await client.get(
        "/workflows/definitions/assigned/graph", params={"instance_id": instance["id"]}, headers=CAROL
    )
    assert graph.status_code == 200
    events = await client.get(f"{url}/events", headers=CAROL)  # finished: the snapshot, then the stream ends
    assert events.status_code == 200
    assert "instance.snapshot" in events.text
    listed = (await client.get("/workflows/instances", headers=CAROL)).json()
    assert [item["id"] for item in listed["items"]] == [instance["id"]]


async def test_only_the_starter_and_admins_cancel(client: Client, plugin: WorkflowPlugin) -> None:
    instance_id, _ = await _alices_approval(client, plugin)  # bob, a manager, may act on its task
    url = f"/workflows/instances/{instance_id}"
    assert (await client.get(url, headers=BOB)).status_code == 200
    refused = await client.post(f"{url}/cancel", json={"reason": "no"}, headers=BOB)
    assert refused.status_code == 403
    assert refused.json()["detail"] == f"user 'bob' may not cancel instance {instance_id}"
    assert (await client.get(url, headers=ALICE)).json()["status"] == "waiting"
    cancelled = await client.post(f"{url}/cancel", json={"reason": "changed my mind"}, headers=ALICE)
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "canceled")
    other_id, _ = await _alices_approval(client, plugin)
    by_admin = await client.post(f"/workflows/instances/{other_id}/cancel", json={"reason": "ops"}, headers=ADMIN)
    assert (by_admin.status_code, by_admin.json()["status"]) == (200, "canceled")


async def _failed_flaky(client: Client, plugin: WorkflowPlugin) -> str:
    Flaky.fixed = False
    instance = await start(client, "flaky", headers=ALICE)
    await settle(client, plugin, instance["id"])
    assert (await client.get(f"/workflows/instances/{instance['id']}", headers=ALICE)).json()["status"] == "failed"
    return str(instance["id"])


async def test_retry_is_for_admins_and_starters_only_when_allowed(make_app: AppFactory) -> None:
    for starters_may_retry in (False, True):
        app = make_app(admin_role=None, policy=WorkflowPolicy("admin", starters_may_retry=starters_may_retry))
        plugin = app.plugins.get(WorkflowPlugin)
        async with AsyncTestClient(app) as client:
            try:
                instance_id = await _failed_flaky(client, plugin)
                url = f"/workflows/instances/{instance_id}/retry"
                assert (await client.post(url, headers=BOB)).status_code == 403
                by_starter = await client.post(url, headers=ALICE)
                if not starters_may_retry:
                    assert by_starter.status_code == 403
                    assert by_starter.json()["detail"] == f"user 'alice' may not retry instance {instance_id}"
                    by_starter = await client.post(url, headers=ADMIN)
                assert by_starter.status_code == 200, by_starter.text
            finally:
                Flaky.fixed = False


async def _listing(client: Client, headers: dict[str, str], **params: Any) -> tuple[list[str], int]:
    response = await client.get("/workflows/instances", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return [item["id"] for item in body["items"]], body["total"]


async def _check_listings(client: Client) -> None:
    """Five instances by alice and bob, one of alice's with a task for bob: who lists what."""
    alices = [(await start(client, "auto", headers=ALICE))["id"] for _ in range(3)]
    bobs = [(await start(client, "auto", headers=BOB))["id"] for _ in range(2)]
    for_bob = (await start(client, "assigned", {"owner": "bob"}, headers=ALICE))["id"]
    plugin = client.app.plugins.get(WorkflowPlugin)
    await settle(client, plugin, for_bob)
    newest_first = [for_bob, *reversed(bobs), *reversed(alices)]

    assert await _listing(client, ADMIN) == (newest_first, 6)
    assert await _listing(client, ALICE) == ([for_bob, *reversed(alices)], 4)
    assert await _listing(client, BOB) == ([for_bob, *reversed(bobs)], 3)
    assert await _listing(client, BOB, limit=2, offset=1) == (list(reversed(bobs)), 3)
    assert await _listing(client, BOB, limit=2, offset=2) == ([bobs[0]], 3)
    assert await _listing(client, BOB, limit=2, offset=5) == ([], 3)
    assert await _listing(client, CAROL) == ([], 0)
    # "my requests", and the instances of one starter (still only the visible ones)
    assert await _listing(client, BOB, mine="true") == (list(reversed(bobs)), 2)
    assert await _listing(client, BOB, started_by="alice") == ([for_bob], 1)
    assert await _listing(client, BOB, mine="true", started_by="alice") == ([], 0)
    assert await _listing(client, ADMIN, started_by="alice") == ([for_bob, *reversed(alices)], 4)
    assert await _listing(client, ADMIN, mine="true") == ([], 0)
    summary = (await client.get("/workflows/instances", params={"limit": 1}, headers=ADMIN)).json()["items"][0]
    assert summary["started_by"] == "alice"


async def test_listing_holds_only_visible_instances_in_memory(client: Client) -> None:
    await _check_listings(client)


async def test_listing_holds_only_visible_instances_in_sql(make_app: AppFactory, database_url: str) -> None:
    async with AsyncTestClient(make_app(persistence=None, database_url=database_url)) as client:
        await _check_listings(client)


async def test_started_by_is_recorded_and_survives_task_completions(make_app: AppFactory, database_url: str) -> None:
    for persistence in ({}, {"persistence": None, "database_url": database_url}):
        app = make_app(**persistence)
        plugin = app.plugins.get(WorkflowPlugin)
        async with AsyncTestClient(app) as client:
            started = await start(client, "approval", {"amount": 1}, headers=ALICE)
            assert started["started_by"] == "alice"
            task = await open_task(client, plugin, started["id"])
            done = await client.post(f"/workflows/tasks/{task['id']}/complete", json={"approved": True}, headers=BOB)
            assert done.status_code == 200
            await settle(client, plugin, started["id"])
            stored = in_app(client, plugin.engine.get_instance, UUID(started["id"]))
            assert (stored.status.value, stored.started_by, stored.context.user_id) == ("completed", "alice", "bob")
            detail = (await client.get(f"/workflows/instances/{started['id']}", headers=ALICE)).json()
            assert detail["started_by"] == "alice"
            assert (
                await client.post(f"/workflows/instances/{started['id']}/cancel", json={"reason": "x"}, headers=BOB)
            ).status_code == 403


async def test_start_groups_are_enforced(make_app: AppFactory) -> None:
    from tests.web.conftest import definitions

    restricted = definitions()[3]  # "auto", machine steps only
    restricted.name = "payroll"
    restricted.start_groups = frozenset({"hr", "finance"})
    app = make_app(workflows=[*definitions(), restricted])
    async with AsyncTestClient(app) as client:
        refused = await client.post("/workflows/instances", json={"workflow": "payroll"}, headers=BOB)
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            "user 'bob' may not start workflow 'payroll': it needs membership in one of the groups finance, hr"
        )
        assert (await client.get("/workflows/instances", headers=ADMIN)).json()["total"] == 0
        for headers in (CAROL, ADMIN):
            assert (
                await client.post("/workflows/instances", json={"workflow": "payroll"}, headers=headers)
            ).status_code == 201
        detail = (await client.get("/workflows/definitions/payroll", headers=BOB)).json()
        assert detail["start_groups"] == ["finance", "hr"]
        assert (await client.post("/workflows/instances", json={"workflow": "auto"}, headers=BOB)).status_code == 201


@contextmanager
def plugin_log(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """The plugin logger's warnings while the context runs.

    Building a Litestar app reconfigures the root logger (dropping caplog's handler there), so
    the handler goes on the plugin's logger itself.
    """
    logger = logging.getLogger("litestar_workflows.plugin")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger=logger.name):
            yield caplog.records
    finally:
        logger.removeHandler(caplog.handler)


ANONYMOUS_WARNING = (
    "allow_anonymous is on: callers without an identity may use the workflow API at /workflows "
    "(meant for local development)"
)


async def test_allow_anonymous_warns_and_admits_anonymous_callers(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(allow_anonymous=True)
    plugin = app.plugins.get(WorkflowPlugin)
    with plugin_log(caplog) as records:
        async with AsyncTestClient(app) as client:
            assert [record.getMessage() for record in records if record.levelno == logging.WARNING] == [
                ANONYMOUS_WARNING
            ]
            alices = await start(client, "auto", headers=ALICE)
            theirs = await start(client, "approval", headers=NOBODY)
            assert theirs["started_by"] is None
            assert (await client.get("/workflows/definitions", headers=NOBODY)).status_code == 200
            # anonymous callers see (and may cancel) what was started without a starter, nothing else
            assert await _listing(client, NOBODY) == ([theirs["id"]], 1)
            assert await _listing(client, NOBODY, mine="true") == ([theirs["id"]], 1)
            hidden = await client.get(f"/workflows/instances/{alices['id']}", headers=NOBODY)
            assert hidden.status_code == 401
            assert hidden.json()["detail"] == (
                f"an anonymous caller may not see instance {alices['id']}; authenticate and try again"
            )
            task = await open_task(client, plugin, theirs["id"])
            # tasks still need an identified user, even with allow_anonymous
            inbox = await client.get("/workflows/tasks", headers=NOBODY)
            assert (inbox.status_code, inbox.json()["detail"]) == (401, "tasks need an authenticated user")
            claim = await client.post(f"/workflows/tasks/{task['id']}/claim", headers=NOBODY)
            assert claim.status_code == 401
            cancelled = await client.post(
                f"/workflows/instances/{theirs['id']}/cancel", json={"reason": "oops"}, headers=NOBODY
            )
            assert (cancelled.status_code, cancelled.json()["status"]) == (200, "canceled")


async def test_no_warning_without_allow_anonymous(make_app: AppFactory, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    with plugin_log(caplog) as records:
        async with AsyncTestClient(app) as client:
            assert (await client.get("/workflows/definitions", headers=ALICE)).status_code == 200
        assert [record.getMessage() for record in records] == []


async def test_anonymous_idempotency_keys_do_not_collide(make_app: AppFactory) -> None:
    async with AsyncTestClient(make_app(allow_anonymous=True)) as client:
        headers = {**NOBODY, "Idempotency-Key": "same-key"}
        first = await client.post("/workflows/instances", json={"workflow": "auto", "data": {"n": 1}}, headers=headers)
        other = await client.post("/workflows/instances", json={"workflow": "auto", "data": {"n": 2}}, headers=headers)
        assert (first.status_code, other.status_code) == (201, 201)  # another request: another instance
        assert first.json()["id"] != other.json()["id"]
        assert other.json()["data"]["n"] == 2
        replay = await client.post("/workflows/instances", json={"workflow": "auto", "data": {"n": 1}}, headers=headers)
        assert (replay.status_code, replay.json()["id"]) == (200, first.json()["id"])
        # an identified caller's key is still theirs alone: the same key and body are a new instance
        alice = await client.post(
            "/workflows/instances",
            json={"workflow": "auto", "data": {"n": 1}},
            headers={**ALICE, "Idempotency-Key": "same-key"},
        )
        assert alice.status_code == 201
        assert alice.json()["id"] not in {first.json()["id"], other.json()["id"]}


def test_a_custom_policy_decides_through_callables() -> None:
    policy = WorkflowPolicy(
        "admin",
        view_definitions=lambda identity: "staff" in identity.groups,
        cancel=lambda identity, instance: identity.user_id == "ops",
    )
    staff, guest = Identity("sam", frozenset({"staff"})), Identity("gus")
    assert policy.may_view_definitions(staff) and not policy.may_view_definitions(guest)
    assert not policy.may_view_definitions(Identity("root", frozenset({"admin"})))  # the callable decides alone


async def test_a_custom_policy_is_what_the_api_asks(make_app: AppFactory) -> None:
    policy = WorkflowPolicy("admin", view_definitions=lambda identity: "staff" in identity.groups)
    async with AsyncTestClient(make_app(admin_role=None, policy=policy)) as client:
        assert (await client.get("/workflows/definitions", headers=as_user("sam", "staff"))).status_code == 200
        refused = await client.get("/workflows/definitions", headers=BOB)
        assert (refused.status_code, refused.json()["detail"]) == (403, "user 'bob' may not view workflow definitions")
        assert (await client.get("/workflows/definitions/auto/graph", headers=BOB)).status_code == 403


def test_one_admin_role_for_tasks_and_policy() -> None:
    from litestar.exceptions import ImproperlyConfiguredException

    assert make_config(admin_role=None, policy=WorkflowPolicy("ops")).admin_role == "ops"
    with pytest.raises(ImproperlyConfiguredException, match="differs from the policy's admin role"):
        make_config(admin_role="admin", policy=WorkflowPolicy("ops"))


async def test_a_public_route_skips_the_gate_and_still_learns_who_calls() -> None:
    from litestar import get
    from litestar.testing import RequestFactory

    from litestar_workflows.core.exceptions import NotAuthenticatedError
    from litestar_workflows.web.access import PUBLIC_ROUTE, api_gate, caller_identity
    from tests.web.conftest import header_identity

    @get("/health", opt={PUBLIC_ROUTE: True})
    async def health() -> str:
        return "ok"

    @get("/private")
    async def private() -> str:
        return "secret"

    gate = api_gate(header_identity, allow_anonymous=False)
    anonymous = RequestFactory().get("/health")
    await gate(anonymous, health)  # no refusal
    with pytest.raises(NotAuthenticatedError):
        await gate(RequestFactory().get("/private"), private)
    named = RequestFactory().get("/health", headers={"X-User": "alice"})
    await gate(named, health)
    assert await caller_identity(header_identity, named) == Identity("alice")  # resolved on demand


def test_every_action_of_the_policy_can_be_a_callable() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    from litestar_workflows import WorkflowContext, WorkflowInstanceData, WorkflowStatus
    from litestar_workflows.core.access import InstanceScope
    from tests.web.conftest import definitions

    ops = Identity("ops")
    policy = WorkflowPolicy(
        start=lambda identity, definition: definition.name == "auto",
        instance_scope=lambda identity: InstanceScope(workflows=frozenset({"auto"})),
        retry=lambda identity, instance: identity == ops,
    )
    auto, approval = definitions()[3], definitions()[0]
    assert policy.may_start(ops, auto) and not policy.may_start(ops, approval)
    assert policy.instance_scope(ops) == InstanceScope(workflows=frozenset({"auto"}))
    context = WorkflowContext(uuid4(), uuid4(), {}, {}, "one", [], datetime.now(UTC))
    instance = WorkflowInstanceData(uuid4(), "auto", "1", WorkflowStatus.FAILED, context, "one")
    assert policy.may_retry(ops, instance) and not policy.may_retry(Identity("bob"), instance)
