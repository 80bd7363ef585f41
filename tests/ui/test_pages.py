"""The UI's pages through Litestar's test client: switched on, forms, CSRF, headers, htmx pieces, filters."""

from __future__ import annotations

import functools
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import ImproperlyConfiguredException
from litestar.testing import AsyncTestClient

from litestar_workflows import BaseHumanStep, SubWorkflowStep, WorkflowPlugin
from litestar_workflows.ui import DEFAULT_CONTENT_SECURITY_POLICY, UIConfig
from litestar_workflows.ui.config import RENDERER_CONTENT_SECURITY_POLICY
from litestar_workflows.ui.csrf import UI_CSRF_COOKIE
from litestar_workflows.web.api import WorkflowApi
from tests.helpers import SetStep, chain
from tests.ui.conftest import UI, csrf_token, field_errors, post_form, ui_app
from tests.web.conftest import ALICE, BOB, CAROL, Client, in_app, make_config, open_task, start

HTMX = {"HX-Request": "true"}


async def _approval_task(client: Client, plugin: WorkflowPlugin) -> dict[str, Any]:
    instance = await start(client, "approval", {"amount": 10}, headers=ALICE)
    return await open_task(client, plugin, instance["id"])


async def test_the_ui_is_off_unless_configured() -> None:
    app = Litestar(plugins=[WorkflowPlugin(make_config())])
    async with AsyncTestClient(app) as client:
        assert (await client.get(f"{UI}/", headers=ALICE)).status_code == 404
        assert (await client.get(f"{UI}/static/htmx.min.js")).status_code == 404


def test_ui_settings_are_checked() -> None:
    for bad in ({"path": "ui"}, {"path": "/"}, {"page_size": 0}, {"refresh_seconds": 0}):
        with pytest.raises(ImproperlyConfiguredException):
            UIConfig(**bad)


async def test_pages_are_sent_with_a_strict_policy_and_no_caching(client: Client) -> None:
    page = await client.get(f"{UI}/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == DEFAULT_CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in DEFAULT_CONTENT_SECURITY_POLICY
    assert (page.headers["cache-control"], page.headers["x-content-type-options"]) == ("no-store", "nosniff")
    assert "<script>" not in page.text and " style=" not in page.text and "<style" not in page.text
    assert re.findall(r'<script src="([^"]+)"', page.text) == [f"{UI}/static/htmx.min.js", f"{UI}/static/ui.js"]
    renderer = await client.get(f"{UI}/graph-renderer")
    assert renderer.headers["content-security-policy"] == RENDERER_CONTENT_SECURITY_POLICY
    script = await client.get(f"{UI}/static/htmx.min.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


async def test_an_invalid_answer_comes_back_marked_and_nothing_is_completed(
    client: Client, plugin: WorkflowPlugin
) -> None:
    task = await _approval_task(client, plugin)
    refused = await post_form(client, f"/tasks/{task['id']}/complete", {"comment": "x" * 30}, BOB)
    assert refused.status_code == 400
    errors = field_errors(refused.text)
    assert errors["approved"] == "is required"
    assert "comment" in errors  # longer than the schema's maxLength 20
    assert 'aria-invalid="true"' in refused.text
    assert 'value="' + "x" * 30 in refused.text or "x" * 30 in refused.text  # what was typed stays
    assert (await client.get(f"/workflows/tasks/{task['id']}", headers=BOB)).json()["status"] == "open"

    done = await post_form(client, f"/tasks/{task['id']}/complete", {"approved": "true", "comment": "ok"}, BOB)
    assert done.status_code == 303
    assert done.headers["location"] == f"{UI}/?notice=completed"
    detail = (await client.get(f"/workflows/tasks/{task['id']}", headers=BOB)).json()
    assert (detail["status"], detail["completed_by"], detail["data"]) == (
        "completed",
        "bob",
        {"approved": True, "comment": "ok"},
    )
    page = await client.get(f"{UI}/tasks/{task['id']}", headers=BOB)
    assert "The answer" in page.text and "Your answer" not in page.text
    again = await post_form(client, f"/tasks/{task['id']}/complete", {"approved": "true"}, BOB)
    assert again.status_code == 409
    assert "Someone was quicker" in again.text


async def test_a_value_of_the_wrong_type_is_refused_before_the_engine_sees_it(
    client: Client, plugin: WorkflowPlugin
) -> None:
    task = await _approval_task(client, plugin)
    refused = await post_form(client, f"/tasks/{task['id']}/complete", {"approved": "perhaps"}, BOB)
    assert (refused.status_code, field_errors(refused.text)) == (400, {"approved": "choose yes or no"})


async def test_forms_without_a_csrf_token_are_refused(client: Client, plugin: WorkflowPlugin) -> None:
    task = await _approval_task(client, plugin)
    open_form_token = await csrf_token(client, BOB)
    refused = await client.post(f"{UI}/tasks/{task['id']}/claim", headers=BOB, follow_redirects=False)
    assert refused.status_code == 403
    assert "CSRF token verification failed" in refused.text
    assert "set-cookie" not in refused.headers  # the refusal leaves the browser's token valid
    forged = await client.post(
        f"{UI}/tasks/{task['id']}/claim", data={"_csrf_token": "0" * 128}, headers=BOB, follow_redirects=False
    )
    assert forged.status_code == 403
    assert (await client.get(f"/workflows/tasks/{task['id']}", headers=BOB)).json()["claimed_by"] is None
    claimed = await client.post(
        f"{UI}/tasks/{task['id']}/claim", data={"_csrf_token": open_form_token}, headers=BOB, follow_redirects=False
    )
    assert claimed.status_code == 303  # a form opened before the refusals still works
    assert (await client.get(f"/workflows/tasks/{task['id']}", headers=BOB)).json()["claimed_by"] == "bob"


async def test_the_apps_own_csrf_settings_protect_the_ui() -> None:
    host = Litestar(plugins=[WorkflowPlugin(make_config(ui=UIConfig()))], csrf_config=CSRFConfig(secret="s" * 32))
    async with AsyncTestClient(host) as client:
        token = await csrf_token(client, ALICE)
        assert "csrftoken" in client.cookies and UI_CSRF_COOKIE not in client.cookies
        started = await client.post(f"{UI}/start/open", data={"_csrf_token": token, "data": "{}"}, headers=ALICE)
        assert started.status_code == 200  # followed to the new instance's page
        assert "Started." in started.text
        refused = await client.post(f"{UI}/start/open", data={"data": "{}"}, headers=ALICE)
        assert refused.status_code == 403


async def test_a_stale_csrf_cookie_is_replaced_by_the_next_page(client: Client) -> None:
    from litestar.middleware.csrf import generate_csrf_token

    client.cookies.set(UI_CSRF_COOKIE, generate_csrf_token("another secret"), path=UI)
    token = await csrf_token(client, ALICE)
    started = await client.post(
        f"{UI}/start/open", data={"_csrf_token": token, "data": "{}"}, headers=ALICE, follow_redirects=False
    )
    assert started.status_code == 303


async def test_htmx_claims_get_the_list_back_and_refusals_as_a_message(client: Client, plugin: WorkflowPlugin) -> None:
    task = await _approval_task(client, plugin)
    token = await csrf_token(client, BOB)
    claimed = await client.post(
        f"{UI}/tasks/{task['id']}/claim", data={"_csrf_token": token, "offset": "0"}, headers={**BOB, **HTMX}
    )
    assert claimed.status_code == 200
    assert not claimed.text.lstrip().startswith("<!doctype")
    assert "Claimed by you" in claimed.text
    manager = {"X-User": "mia", "X-Groups": "managers"}
    taken = await client.post(
        f"{UI}/tasks/{task['id']}/claim", data={"_csrf_token": token}, headers={**manager, **HTMX}
    )
    assert taken.status_code == 409
    assert (taken.headers["hx-retarget"], taken.headers["hx-reswap"]) == ("#messages", "innerHTML")
    assert 'role="alert"' in taken.text and "bob" in taken.text
    assert not taken.text.lstrip().startswith("<!doctype")
    released = await client.post(
        f"{UI}/tasks/{task['id']}/release", data={"_csrf_token": token}, headers=BOB, follow_redirects=False
    )
    assert (released.status_code, released.headers["location"]) == (303, f"{UI}/?notice=released")
    back = await client.post(
        f"{UI}/tasks/{task['id']}/claim",
        data={"_csrf_token": token, "return_to": "task"},
        headers=BOB,
        follow_redirects=False,
    )
    assert back.headers["location"] == f"{UI}/tasks/{task['id']}"


async def test_the_inbox_filters_and_pages() -> None:
    app = ui_app(ui=UIConfig(page_size=1))
    async with AsyncTestClient(app) as client:
        plugin = app.plugins.get(WorkflowPlugin)
        first = await _approval_task(client, plugin)
        second = await _approval_task(client, plugin)
        await start(client, "open", headers=ALICE)
        page = await client.get(f"{UI}/", headers=BOB)
        assert "3 open tasks, showing 1\u20131." in page.text
        assert first["id"] in page.text and second["id"] not in page.text
        assert f'href="{UI}/?offset=1" rel="next"' in page.text
        following = await client.get(f"{UI}/?offset=1", headers=BOB)
        assert second["id"] in following.text and 'rel="prev"' in following.text
        only = await client.get(f"{UI}/?workflow=open", headers=BOB)
        assert "1 open task." in only.text and "Open to everyone" in only.text
        await post_form(client, f"/tasks/{second['id']}/claim", {}, BOB)
        mine = await client.get(f"{UI}/?mine=true", headers=BOB)
        assert "1 open task." in mine.text and second["id"] in mine.text
        assert (await client.get(f"{UI}/?offset=-1", headers=BOB)).status_code == 400


async def test_overdue_tasks_are_highlighted(monkeypatch: pytest.MonkeyPatch) -> None:
    due = chain("due", [BaseHumanStep("sign", due_in=timedelta(hours=1)), SetStep("end", "done", True)])
    app = ui_app(workflows=[due])
    async with AsyncTestClient(app) as client:
        plugin = app.plugins.get(WorkflowPlugin)
        instance = await start(client, "due", headers=ALICE)
        await open_task(client, plugin, instance["id"])
        assert "Overdue" not in (await client.get(f"{UI}/", headers=ALICE)).text
        monkeypatch.setattr(WorkflowApi, "now", staticmethod(lambda: datetime.now(UTC) + timedelta(hours=2)))
        page = await client.get(f"{UI}/", headers=ALICE)
        assert 'class="card overdue"' in page.text
        assert '<strong class="badge badge-overdue">Overdue</strong>' in page.text


async def test_starting_from_a_form_and_from_json(client: Client, plugin: WorkflowPlugin) -> None:
    form = await client.get(f"{UI}/start/open", headers=ALICE)
    assert 'name="data"' in form.text  # no input type: the data as a JSON object
    bad = await post_form(client, "/start/open", {"data": "[1, 2]"}, ALICE)
    assert (bad.status_code, field_errors(bad.text)) == (400, {"data": "must be a JSON object ({...})"})
    started = await post_form(client, "/start/open", {"data": '{"note": "hi"}'}, ALICE)
    assert started.status_code == 303
    instance_id = started.headers["location"].split("/")[-1].split("?")[0]
    detail = (await client.get(f"/workflows/instances/{instance_id}", headers=ALICE)).json()
    assert (detail["started_by"], detail["data"]["note"]) == ("alice", "hi")
    listed = await client.get(f"{UI}/instances", headers=ALICE)
    assert instance_id[:8] in listed.text and "Started by me" in listed.text
    assert instance_id[:8] not in (await client.get(f"{UI}/instances", headers=BOB)).text
    unknown = await client.get(f"{UI}/start/nothing", headers=ALICE)
    assert unknown.status_code == 404 and "Not found" in unknown.text


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"ratio": NaN}', "is not valid JSON (NaN is no JSON number)"),
        ('{"ratio": [Infinity]}', "is not valid JSON (Infinity is no JSON number)"),
        ('{"deep": ' + "[" * 50_000 + "]" * 50_000 + "}", "is nested too deeply"),
    ],
)
async def test_json_the_api_refuses_is_refused_by_the_start_form_too(database_url: str, text: str, error: str) -> None:
    # Python's JSON reader takes NaN and Infinity (which would be stored as null) and gives up on
    # deep nesting with a RecursionError (a 500): the form answers 400 next to the field, starts nothing.
    async with AsyncTestClient(ui_app(persistence=None, database_url=database_url)) as client:
        refused = await post_form(client, "/start/open", {"data": text}, ALICE)
        assert (refused.status_code, field_errors(refused.text)) == (400, {"data": error})
        listed = await client.get("/workflows/instances", headers=ALICE)
        assert listed.json()["total"] == 0


async def test_cancelling_needs_a_reason(client: Client, plugin: WorkflowPlugin) -> None:
    task = await _approval_task(client, plugin)
    refused = await post_form(client, f"/instances/{task['instance_id']}/cancel", {"reason": " "}, ALICE)
    assert refused.status_code == 400 and "give a reason for cancelling" in refused.text
    cancelled = await post_form(client, f"/instances/{task['instance_id']}/cancel", {"reason": "duplicate"}, ALICE)
    assert cancelled.status_code == 303
    page = await client.get(cancelled.headers["location"], headers=ALICE)
    assert "The instance was cancelled." in page.text and "duplicate" in page.text
    assert "Cancel this instance" not in page.text


async def test_the_instance_page_shows_the_diagram_source_and_states(client: Client, plugin: WorkflowPlugin) -> None:
    task = await _approval_task(client, plugin)
    page = await client.get(f"{UI}/instances/{task['instance_id']}", headers=ALICE)
    graph = await client.get(f"/workflows/definitions/approval/graph?instance_id={task['instance_id']}", headers=ALICE)
    source = re.search(r'<pre class="graph-source" id="graph-source">(.*?)</pre>', page.text, re.DOTALL)
    assert source is not None
    assert source.group(1).replace("&gt;", ">").replace("&#34;", '"').replace("&quot;", '"') == graph.text
    assert "Current: approve" in page.text and "Done: submit" in page.text
    assert f'href="{UI}/tasks/{task["id"]}"' in page.text


async def test_an_instance_page_links_a_sub_workflow_and_its_parent(client: Client, plugin: WorkflowPlugin) -> None:
    registry = plugin.engine.registry
    registry.register_definition(chain("checking", [BaseHumanStep("decide", candidate_groups=["managers"])]))
    registry.register_definition(chain("calling", [SubWorkflowStep("check", "checking"), SetStep("done")]))
    parent = in_app(client, functools.partial(plugin.engine.start_workflow, "calling", started_by="alice"))
    waiting = in_app(client, plugin.engine.wait_for, parent.id, 5)
    [child] = [token.child_id for token in waiting.tokens if token.child_id is not None]

    page = await client.get(f"{UI}/instances/{parent.id}", headers=ALICE)
    assert f'href="{UI}/instances/{child}"' in page.text
    page = await client.get(f"{UI}/instances/{child}", headers=ALICE)
    assert page.status_code == 200 and f'href="{UI}/instances/{parent.id}"' in page.text


async def test_a_task_page_shows_the_request_only_to_those_who_may_see_the_instance(
    client: Client, plugin: WorkflowPlugin
) -> None:
    task = await _approval_task(client, plugin)
    page = await client.get(f"{UI}/tasks/{task['id']}", headers=BOB)
    assert "The request" in page.text and "amount" in page.text
    assert (await client.get(f"{UI}/tasks/{task['id']}", headers=CAROL)).status_code == 403


def test_without_jinja2_the_app_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)  # as if the ui extra were not installed
    with pytest.raises(ImproperlyConfiguredException, match=r'pip install "litestar-workflows\[ui\]"'):
        ui_app()
