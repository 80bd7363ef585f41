"""Request bodies must be JSON: what a page on another site can send without a preflight is refused (415).

HTML forms post ``application/x-www-form-urlencoded``, ``multipart/form-data`` or ``text/plain``,
and ``fetch`` may send a body with no ``Content-Type`` at all, all without a CORS preflight and
with the visitor's cookies. Each such request, made here by a caller who would be allowed the
action, must change nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import RequestFactory

from litestar_workflows import WorkflowPlugin
from litestar_workflows.web.access import UnsupportedMediaTypeException, require_json_body
from tests.web.conftest import (
    ADMIN,
    ALICE,
    API_OPERATIONS,
    Client,
    in_app,
    open_task,
    operation_body,
    operation_url,
    start,
)

POSTS = [template for method, template in API_OPERATIONS if method == "POST"]


def _cross_site_bodies(body: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """(description, httpx arguments) of each way a page on another site could post ``body``."""
    text = json.dumps(body or {})
    return [
        ("form", {"data": {"payload": text}}),  # application/x-www-form-urlencoded
        ("multipart", {"files": {"payload": ("payload.json", text.encode(), "application/json")}}),
        ("text/plain", {"content": text, "headers": {"Content-Type": "text/plain"}}),
        ("text/plain, empty", {"content": b"", "headers": {"Content-Type": "text/plain"}}),
        ("no content type", {"content": text.encode()}),
    ]


@pytest.mark.parametrize("template", POSTS)
async def test_non_json_bodies_are_415_and_change_nothing(
    client: Client, plugin: WorkflowPlugin, template: str
) -> None:
    instance = await start(client, "approval", {"amount": 10}, headers=ALICE)
    task = await open_task(client, plugin, instance["id"])
    url = operation_url(template, instance["id"], task["id"])
    for description, arguments in _cross_site_bodies(operation_body("POST", template)):
        headers = {**ADMIN, **arguments.pop("headers", {})}  # an admin: the action itself would be allowed
        response = await client.post(url, headers=headers, **arguments)
        assert response.status_code == 415, (description, response.text)
        assert response.json()["status_code"] == 415
        assert "application/json" in response.json()["detail"], description
    assert len(in_app(client, plugin.persistence.list_instances)) == 1  # nothing started
    detail = (await client.get(f"/workflows/instances/{instance['id']}", headers=ADMIN)).json()
    assert detail["status"] == "waiting"  # not cancelled
    [open_now] = detail["open_tasks"]
    assert (open_now["id"], open_now["claimed_by"], open_now["assignee"]) == (task["id"], None, None)


async def test_the_refusal_names_the_media_type(client: Client) -> None:
    response = await client.post(
        "/workflows/instances", content="workflow=auto", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert response.json() == {
        "status_code": 415,
        "detail": "request bodies must be application/json, not 'application/x-www-form-urlencoded'",
    }
    headless = await client.post("/workflows/instances", content=b'{"workflow": "auto"}')
    assert headless.json()["detail"] == "the request has a body but no Content-Type; send it as application/json"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/vnd.workflows+json"]
)
async def test_json_media_types_with_parameters_or_suffixes_are_accepted(client: Client, content_type: str) -> None:
    response = await client.post(
        "/workflows/instances", content=b'{"workflow": "auto"}', headers={"Content-Type": content_type}
    )
    assert response.status_code == 201, response.text


async def test_bodiless_posts_need_no_content_type(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "approval", {"amount": 10})
    task = await open_task(client, plugin, instance["id"])
    claimed = await client.post(f"/workflows/tasks/{task['id']}/claim", headers=ADMIN)
    assert (claimed.status_code, claimed.json()["claimed_by"]) == (200, "root")
    released = await client.post(f"/workflows/tasks/{task['id']}/release", headers={**ADMIN, "Content-Length": "0"})
    assert released.status_code == 200


def test_415_is_documented_on_every_post(app: Any) -> None:
    paths = app.openapi_schema.to_schema()["paths"]
    for template in POSTS:
        assert "415" in paths[template]["post"]["responses"], template


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"Transfer-Encoding": "chunked"}, True),  # a body of unknown length, with no media type
        ({"Content-Length": "12"}, True),
        ({"Content-Length": "twelve"}, True),  # not a length: refused rather than guessed
        ({"Content-Length": "0"}, False),
        ({}, False),
    ],
)
def test_a_body_without_a_content_type_is_refused(headers: dict[str, str], refused: bool) -> None:
    request = RequestFactory().post("/workflows/tasks/1/claim", headers=headers)
    # the factory adds a JSON Content-Type: keep only ours
    request.scope["headers"] = [(key.lower().encode(), value.encode()) for key, value in headers.items()]
    if refused:
        with pytest.raises(UnsupportedMediaTypeException):
            require_json_body(request)
    else:
        require_json_body(request)


async def test_the_gate_refuses_an_empty_body_only_where_one_is_required() -> None:
    from litestar import post
    from litestar.exceptions import ValidationException

    from litestar_workflows.web.access import api_gate
    from tests.web.conftest import header_identity

    @post("/required")
    async def required(data: dict[str, Any]) -> None: ...

    @post("/optional")
    async def optional(data: dict[str, Any] | None = None) -> None: ...

    @post("/none")
    async def none() -> None: ...

    gate = api_gate(header_identity, allow_anonymous=False)

    def empty(path: str) -> Any:
        request = RequestFactory().post(path, headers={"X-User": "alice"})
        request.scope["headers"] = [(b"x-user", b"alice")]  # no body, no Content-Type
        return request

    with pytest.raises(ValidationException, match="the body is empty; send a JSON object"):
        await gate(empty("/required"), required)
    await gate(empty("/optional"), optional)
    await gate(empty("/none"), none)
