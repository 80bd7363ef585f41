"""``/workflows/definitions``: list, detail and the Mermaid graph."""

from __future__ import annotations

from litestar_workflows import WorkflowPlugin
from tests.web.conftest import BOB, Client, open_task, settle, start


async def test_list_shows_each_workflow_once_with_all_versions(client: Client) -> None:
    response = await client.get("/workflows/definitions")
    assert response.status_code == 200
    by_name = {item["name"]: item for item in response.json()}
    assert set(by_name) == {"approval", "assigned", "open", "auto", "timed", "flaky", "versioned"}
    assert by_name["versioned"] == {
        "name": "versioned",
        "latest_version": "2",
        "versions": ["1", "2"],
        "description": "",
        "step_count": 2,
    }


async def test_detail_has_steps_with_types_edges_and_ends(client: Client) -> None:
    response = await client.get("/workflows/definitions/approval")
    assert response.status_code == 200
    body = response.json()
    assert body["initial_step"] == "submit"
    assert body["terminal_steps"] == ["done"]
    steps = {step["name"]: step for step in body["steps"]}
    assert steps["submit"]["type"] == "machine"
    assert steps["approve"]["type"] == "human"
    assert steps["approve"]["candidate_groups"] == ["managers"]
    assert steps["approve"]["form_schema"]["required"] == ["approved"]
    assert steps["submit"]["form_schema"] is None
    assert body["edges"] == [
        {"source": "submit", "target": "approve", "condition": None},
        {"source": "approve", "target": "done", "condition": None},
    ]


async def test_detail_of_an_older_version(client: Client) -> None:
    body = (await client.get("/workflows/definitions/versioned", params={"version": "1"})).json()
    assert body["version"] == "1"
    assert [step["name"] for step in body["steps"]] == ["v1"]


async def test_unknown_workflow_or_version_is_404(client: Client) -> None:
    for url, params in [
        ("/workflows/definitions/nope", {}),
        ("/workflows/definitions/versioned", {"version": "9"}),
        ("/workflows/definitions/nope/graph", {}),
    ]:
        response = await client.get(url, params=params)
        assert response.status_code == 404
        assert response.json()["status_code"] == 404
        assert "not registered" in response.json()["detail"]


async def test_graph_is_mermaid_text(client: Client) -> None:
    response = await client.get("/workflows/definitions/approval/graph")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("flowchart TD")
    assert "submit --> approve" in response.text
    assert "classDef" not in response.text


async def test_graph_highlights_an_instances_state(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "approval")
    await open_task(client, plugin, instance["id"])
    response = await client.get("/workflows/definitions/approval/graph", params={"instance_id": instance["id"]})
    assert response.status_code == 200
    assert "class submit completed" in response.text
    assert "class approve current" in response.text


async def test_graph_of_a_finished_instance_marks_no_current_step(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "auto")
    await settle(client, plugin, instance["id"])
    text = (await client.get("/workflows/definitions/auto/graph", params={"instance_id": instance["id"]})).text
    assert "class one,two completed" in text
    assert "current" not in text


async def test_graph_refuses_an_instance_of_another_workflow_or_version(client: Client) -> None:
    instance = await start(client, "auto")
    other = await client.get("/workflows/definitions/approval/graph", params={"instance_id": instance["id"]})
    assert other.status_code == 404
    assert "not an instance of workflow 'approval'" in other.json()["detail"]
    version = await client.get(
        "/workflows/definitions/auto/graph", params={"instance_id": instance["id"], "version": "7"}
    )
    assert version.status_code == 400
    missing = await client.get(
        "/workflows/definitions/auto/graph", params={"instance_id": "00000000-0000-0000-0000-000000000000"}
    )
    assert missing.status_code == 404
    bad = await client.get("/workflows/definitions/auto/graph", params={"instance_id": "not-a-uuid"})
    assert bad.status_code == 400
    assert bad.json()["extra"][0]["key"] == "instance_id"


async def test_definitions_are_readable_without_identity(client: Client) -> None:
    assert (await client.get("/workflows/definitions", headers=BOB)).status_code == 200
    assert (await client.get("/workflows/definitions")).status_code == 200
