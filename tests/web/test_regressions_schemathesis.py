"""Regressions for what the schemathesis run (tests/web/test_schemathesis.py) found.

1. Errors of the Mermaid graph endpoint were JSON bodies sent as ``text/plain`` (the handler's
   media type), while the schema documents them as ``application/json``.
2. A huge ``offset`` on the list endpoints overflowed SQLite's integer: a 500 instead of a 400.
3. ``started_after=0.0`` was read as a Unix timestamp although the parameter is a date-time.
4. Request bodies refuse unknown fields, but the schema did not say so (``additionalProperties``).
5. The event stream was documented as ``application/json``; its events had no schema.
6. Bodies above ``max_body_size`` get a 413 that the schema did not list (found reading the schema
   next to the run, which never sends bodies that large).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from litestar.testing import AsyncTestClient

from litestar_workflows.web.params import MAX_OFFSET
from tests.web.conftest import ALICE, AppFactory, Client, start


async def openapi(client: Client) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


async def test_graph_errors_are_json_and_the_diagram_is_text(client: Client) -> None:
    unknown = await client.get("/workflows/definitions/nope/graph")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/json"
    assert unknown.json()["detail"] == "workflow 'nope' is not registered"
    invalid = await client.get("/workflows/definitions/auto/graph", params={"instance_id": "not-a-uuid"})
    assert invalid.status_code == 400
    assert invalid.headers["content-type"] == "application/json"
    assert invalid.json()["extra"][0]["key"] == "instance_id"
    diagram = await client.get("/workflows/definitions/auto/graph")
    assert diagram.status_code == 200
    assert diagram.headers["content-type"].startswith("text/plain")

    responses = (await openapi(client))["paths"]["/workflows/definitions/{name}/graph"]["get"]["responses"]
    assert list(responses["200"]["content"]) == ["text/plain"]
    assert list(responses["404"]["content"]) == ["application/json"]
    assert list(responses["400"]["content"]) == ["application/json"]


@pytest.fixture
async def sqlite_client(make_app: AppFactory, tmp_path: Path) -> AsyncIterator[Client]:
    app = make_app(persistence=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'workflows.sqlite3'}")
    async with AsyncTestClient(app) as test_client:
        test_client.headers.update(ALICE)
        yield test_client


@pytest.mark.parametrize("url", ["/workflows/instances", "/workflows/tasks"])
async def test_an_offset_past_the_database_integer_is_400_not_500(sqlite_client: Client, url: str) -> None:
    headers = {"X-User": "root", "X-Groups": "admin"}
    await start(sqlite_client, "auto")
    huge = await sqlite_client.get(url, params={"offset": str(2**64)}, headers=headers)
    assert huge.status_code == 400, huge.text
    assert huge.json()["extra"][0]["key"] == "offset"
    largest = await sqlite_client.get(url, params={"offset": str(MAX_OFFSET)}, headers=headers)
    assert largest.status_code == 200, largest.text
    assert largest.json()["items"] == []
    assert largest.json()["offset"] == MAX_OFFSET


async def test_offset_maximum_is_documented(client: Client) -> None:
    for path in ("/workflows/instances", "/workflows/tasks"):
        parameters = (await openapi(client))["paths"][path]["get"]["parameters"]
        [offset] = [parameter for parameter in parameters if parameter["name"] == "offset"]
        assert offset["schema"]["maximum"] == MAX_OFFSET


@pytest.mark.parametrize("value", ["0.0", "1700000000", "null", "2024-01-01", "2024-01-01T25:00:00Z"])
async def test_date_time_filters_refuse_what_is_not_a_date_time(client: Client, value: str) -> None:
    for key in ("started_after", "started_before"):
        response = await client.get("/workflows/instances", params={key: value})
        assert response.status_code == 400, (key, value, response.text)
        assert response.json()["extra"] == [{"key": key, "message": "Invalid RFC 3339 date-time", "source": "query"}]


async def test_date_time_filters_still_take_offsets_and_naive_times(client: Client) -> None:
    await start(client, "auto")
    for value, total in [
        ("2000-01-01T00:00:00Z", 1),
        ("2000-01-01t00:00:00+02:00", 1),
        ("2999-01-01T00:00:00", 0),  # naive: read as UTC
    ]:
        response = await client.get("/workflows/instances", params={"started_after": value})
        assert response.status_code == 200, response.text
        assert response.json()["total"] == total, value
    parameters = (await openapi(client))["paths"]["/workflows/instances"]["get"]["parameters"]
    assert {p["name"]: p["schema"].get("format") for p in parameters if p["name"].startswith("started_")} == {
        "started_after": "date-time",
        "started_before": "date-time",
        "started_by": None,  # a user id
    }


async def test_bodies_that_refuse_unknown_fields_say_so_in_the_schema(client: Client) -> None:
    components = (await openapi(client))["components"]["schemas"]
    for name in ("StartInstance", "CancelInstance", "ReassignTask"):
        assert components[name]["additionalProperties"] is False, name
    response = await client.post("/workflows/instances", json={"workflow": "auto", "dta": {}})
    assert response.status_code == 400
    assert "unknown field `dta`" in response.json()["extra"][0]["message"]


async def test_event_stream_and_its_events_are_documented(client: Client) -> None:
    instance = await start(client, "auto")
    operation = (await openapi(client))["paths"]["/workflows/instances/{instance_id}/events"]["get"]
    content = operation["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    event_schema = content["text/event-stream"]["schema"]
    if "$ref" in event_schema:
        name = event_schema["$ref"].rsplit("/", 1)[-1]
        event_schema = (await openapi(client))["components"]["schemas"][name]
    data_schema = event_schema["properties"]["data"]
    assert data_schema["contentMediaType"] == "application/json"

    response = await client.get(f"/workflows/instances/{instance['id']}/events")
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [block for block in response.text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    assert blocks
    for block in blocks:
        event = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith(":"))
        jsonschema.validate(event, event_schema)
        jsonschema.validate(json.loads(event["data"]), data_schema["contentSchema"])


async def test_too_large_bodies_are_a_documented_413(make_app: AppFactory) -> None:
    async with AsyncTestClient(make_app(max_body_size=1024)) as client:
        client.headers.update(ALICE)
        instance = await start(client, "approval")
        large = {"reason": "x" * 2000}
        for url in ("/workflows/instances", f"/workflows/instances/{instance['id']}/cancel"):
            response = await client.post(url, json=large)
            assert response.status_code == 413, response.text
            assert response.json() == {"status_code": 413, "detail": "Request Entity Too Large"}
        paths = (await openapi(client))["paths"]
        for path in (
            "/workflows/instances",
            "/workflows/instances/{instance_id}/cancel",
            "/workflows/tasks/{task_id}/reassign",
            "/workflows/tasks/{task_id}/complete",
        ):
            documented = paths[path]["post"]["responses"]["413"]["content"]["application/json"]["schema"]
            assert documented["required"] == ["detail", "status_code"], path
