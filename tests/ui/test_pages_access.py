"""The UI refuses exactly what the REST API refuses: pages and actions tried as nobody, the wrong user, the right one.

Each case pairs a UI request with the REST request that does the same thing, sends both as the
same caller and compares: the same status (401 for anonymous callers, 403 for the wrong user, 2xx
or a redirect for the right one), and the UI's page states the API's reason.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from litestar.exceptions import PermissionDeniedException
from litestar.testing import AsyncTestClient

from litestar_workflows import WorkflowPlugin
from tests.ui.conftest import LOGIN_URL, UI, csrf_token, ui_app
from tests.web.conftest import ADMIN, ALICE, BOB, CAROL, NOBODY, Client, as_user, in_app, open_task, settle, start

HR = as_user("hana", "hr")


@dataclass(frozen=True)
class Case:
    """One action through the UI and through the API (paths with ``{instance}`` and ``{task}``)."""

    name: str
    ui: tuple[str, str]
    api: tuple[str, str]
    form: dict[str, str] | None = None
    body: dict[str, Any] | None = None


CASES = [
    Case("inbox", ("GET", "/"), ("GET", "/tasks")),
    Case("inbox list", ("GET", "/inbox/list"), ("GET", "/tasks")),
    Case("inbox stream", ("GET", "/inbox/events"), ("GET", "/tasks")),
    Case("task page", ("GET", "/tasks/{task}"), ("GET", "/tasks/{task}")),
    Case("claim", ("POST", "/tasks/{task}/claim"), ("POST", "/tasks/{task}/claim")),
    Case("release", ("POST", "/tasks/{task}/release"), ("POST", "/tasks/{task}/release")),
    Case(
        "complete",
        ("POST", "/tasks/{task}/complete"),
        ("POST", "/tasks/{task}/complete"),
        form={"approved": "true"},
        body={"approved": True},
    ),
    Case("instances", ("GET", "/instances"), ("GET", "/instances")),
    Case("instance page", ("GET", "/instances/{instance}"), ("GET", "/instances/{instance}")),
    Case(
        "cancel",
        ("POST", "/instances/{instance}/cancel"),
        ("POST", "/instances/{instance}/cancel"),
        form={"reason": "no longer needed"},
        body={"reason": "no longer needed"},
    ),
    Case("retry", ("POST", "/instances/{instance}/retry"), ("POST", "/instances/{instance}/retry")),
    Case("start form", ("GET", "/start/payroll"), ("GET", "/definitions/payroll")),
    Case("start", ("POST", "/start/payroll"), ("POST", "/instances"), form={}, body={"workflow": "payroll"}),
]


async def _send(client: Client, case: Case, side: str, ids: dict[str, str], headers: dict[str, str]) -> Any:
    method, template = case.ui if side == "ui" else case.api
    path = template.format(**ids)
    if side == "api":
        body = case.body if method == "POST" else None
        if case.name == "start form":  # the API has no form page: the start itself is what is refused
            method, path, body = "POST", "/instances", {"workflow": "payroll"}
        return await client.request(method, f"/workflows{path}", json=body, headers=headers)
    if method == "GET":
        if path.endswith("/events"):
            async with client.stream("GET", f"{UI}{path}", headers=headers) as response:
                return response  # a refusal comes before the stream starts
        return await client.get(f"{UI}{path}", headers=headers)
    token = await csrf_token(client, ALICE)  # the cookie and token are the browser's, whoever acts
    form = {"_csrf_token": token, **(case.form or {})}
    return await client.post(f"{UI}{path}", data=form, headers=headers, follow_redirects=False)


async def _alices_approval(client: Client, plugin: WorkflowPlugin) -> dict[str, str]:
    instance = await start(client, "approval", {"amount": 10}, headers=ALICE)
    task = await open_task(client, plugin, instance["id"])
    return {"instance": instance["id"], "task": task["id"]}


async def test_the_page_list_is_exhaustive(client: Client) -> None:
    # every UI route but the static files and the diagram renderer (which holds no data) is a case here
    from litestar.routes import HTTPRoute

    app = client.app
    paths = {
        (method, route.path_format.removeprefix(UI) or "/")
        for route in app.routes
        if isinstance(route, HTTPRoute) and route.path_format.startswith(UI)
        for handler in route.route_handlers
        for method in handler.http_methods
        if method not in {"OPTIONS", "HEAD"}
    }
    expected = {
        (
            method,
            path.replace("{task}", "{task_id}").replace("{instance}", "{instance_id}").replace("payroll", "{name}"),
        )
        for method, path in (case.ui for case in CASES)
    }
    expected = {(method, path.replace("payroll", "{name}")) for method, path in expected}
    assert paths - expected == {("GET", "/graph-renderer"), ("GET", "/static/{file_path}")}
    assert expected <= paths


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_anonymous_visitors_get_401_with_a_sign_in_link(
    client: Client, plugin: WorkflowPlugin, case: Case
) -> None:
    ids = await _alices_approval(client, plugin)
    api = await _send(client, case, "api", ids, NOBODY)
    page = await _send(client, case, "ui", ids, NOBODY)
    assert (page.status_code, api.status_code) == (401, 401)
    if case.ui[1].endswith("/events"):
        return
    assert "Please sign in" in page.text
    assert f'href="{LOGIN_URL}"' in page.text
    assert page.headers["content-type"].startswith("text/html")


WRONG_USER = [
    ("task page", CAROL),
    ("claim", CAROL),
    ("release", CAROL),
    ("complete", CAROL),
    ("instance page", CAROL),
    ("cancel", BOB),  # bob sees the instance (its task is his group's) but did not start it
    ("cancel", CAROL),
    ("start form", ALICE),
    ("start", ALICE),
]


@pytest.mark.parametrize(("name", "caller"), WRONG_USER, ids=[f"{name}-{who['X-User']}" for name, who in WRONG_USER])
async def test_the_wrong_user_gets_the_apis_403_as_a_page(
    client: Client, plugin: WorkflowPlugin, name: str, caller: dict[str, str]
) -> None:
    case = next(case for case in CASES if case.name == name)
    ids = await _alices_approval(client, plugin)
    page = await _send(client, case, "ui", ids, caller)
    api = await _send(client, case, "api", ids, caller)
    assert (page.status_code, api.status_code) == (403, 403), page.text
    assert "<h1>Not allowed</h1>" in page.text
    assert api.json()["detail"] in html.unescape(page.text)


async def test_retry_is_refused_to_the_starter_like_the_api_and_allowed_to_admins(
    client: Client, plugin: WorkflowPlugin
) -> None:
    from tests.web.conftest import Flaky

    instance = await start(client, "flaky", headers=ALICE)
    await settle(client, plugin, instance["id"])
    case = next(case for case in CASES if case.name == "retry")
    ids = {"instance": instance["id"], "task": ""}
    page = await client.get(f"{UI}/instances/{instance['id']}", headers=ALICE)
    assert "Retry from the failed step" not in page.text
    assert "Cancel this instance" in page.text  # the starter may cancel a failed instance
    assert (await _send(client, case, "ui", ids, ALICE)).status_code == 403
    assert (await _send(client, case, "api", ids, ALICE)).status_code == 403
    admin_page = await client.get(f"{UI}/instances/{instance['id']}", headers=ADMIN)
    assert "Retry from the failed step" in admin_page.text
    Flaky.fixed = True
    try:
        retried = await _send(client, case, "ui", ids, ADMIN)
        assert retried.status_code == 303
        assert retried.headers["location"] == f"{UI}/instances/{instance['id']}?notice=retried"
        done = in_app(client, plugin.engine.wait_for, UUID(instance["id"]), 5)
        assert done.status.value == "completed"
    finally:
        Flaky.fixed = False


async def test_buttons_follow_the_policy(client: Client, plugin: WorkflowPlugin) -> None:
    ids = await _alices_approval(client, plugin)
    as_alice = await client.get(f"{UI}/instances/{ids['instance']}", headers=ALICE)
    as_bob = await client.get(f"{UI}/instances/{ids['instance']}", headers=BOB)
    assert (as_alice.status_code, as_bob.status_code) == (200, 200)
    assert "Cancel this instance" in as_alice.text
    assert "Cancel this instance" not in as_bob.text
    assert "Start payroll" not in (await client.get(f"{UI}/instances", headers=ALICE)).text
    assert "Start payroll" in (await client.get(f"{UI}/instances", headers=HR)).text


@pytest.mark.parametrize(
    ("name", "caller", "status"),
    [
        ("inbox", BOB, 200),
        ("task page", BOB, 200),
        ("claim", BOB, 303),
        ("complete", BOB, 303),
        ("instance page", BOB, 200),
        ("instance page", ALICE, 200),
        ("cancel", ALICE, 303),
        ("cancel", ADMIN, 303),
        ("start form", HR, 200),
        ("start", HR, 303),
    ],
)
async def test_the_right_user_may(
    client: Client, plugin: WorkflowPlugin, name: str, caller: dict[str, str], status: int
) -> None:
    case = next(case for case in CASES if case.name == name)
    ids = await _alices_approval(client, plugin)
    page = await _send(client, case, "ui", ids, caller)
    assert page.status_code == status, page.text


def _refuse_blocked(connection: Any, _: Any) -> None:
    """A host's own rule over the workflow routes (``api_guards``): callers it marks blocked may do nothing."""
    if connection.headers.get("x-blocked") == "yes":
        raise PermissionDeniedException("blocked by the host's guard")


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_the_hosts_api_guards_close_the_pages_too(case: Case) -> None:
    app = ui_app(api_guards=[_refuse_blocked])
    async with AsyncTestClient(app) as client:
        ids = await _alices_approval(client, app.plugins.get(WorkflowPlugin))
        blocked = {**(HR if case.name.startswith("start") else BOB), "X-Blocked": "yes"}
        api = await _send(client, case, "api", ids, blocked)
        page = await _send(client, case, "ui", ids, blocked)
        assert (page.status_code, api.status_code) == (403, 403), page.text
        if not case.ui[1].endswith("/events"):
            assert "blocked by the host&#39;s guard" in page.text and "<h1>Not allowed</h1>" in page.text
        allowed = await client.get(f"{UI}/", headers=BOB)
        assert allowed.status_code == 200
