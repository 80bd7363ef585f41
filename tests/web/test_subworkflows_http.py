"""Sub-workflows over REST, in memory, on SQLite and on PostgreSQL: the detail links parent and children.

``calling``: finance takes in the request (a task), then the ``check`` step runs ``checking`` as a
child, whose task is for managers; alice starts it. Carol (finance) may see the parent through her
task, so she may see the child too; mallory may see neither. ``direct`` runs ``checking`` as its first step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar import Litestar

from litestar_workflows import BaseHumanStep, SubWorkflowStep, WorkflowPlugin
from tests.conftest import fresh_database
from tests.helpers import SetStep, chain
from tests.web.conftest import ADMIN, ALICE, BOB, CAROL, AppFactory, Client, as_user, in_app, start

MALLORY = as_user("mallory")
DECISION = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, make_app: AppFactory, tmp_path: Path) -> Iterator[Litestar]:
    """The test app in memory, on SQLite and on PostgreSQL."""
    with contextlib.ExitStack() as stack:
        store: dict[str, Any] = {}
        if request.param != "memory":
            store = {"persistence": None, "database_url": stack.enter_context(fresh_database(request.param, tmp_path))}
        checking = chain("checking", [BaseHumanStep("decide", form_schema=DECISION, candidate_groups=["managers"])])
        calling = chain(
            "calling",
            [
                BaseHumanStep("intake", candidate_groups=["finance"]),
                SubWorkflowStep("check", "checking", output=["ok"]),
                SetStep("done", "finished", True),
            ],
        )
        direct = chain("direct", [SubWorkflowStep("check", "checking", output=["ok"])])
        # the child first: a parent names a registered workflow
        yield make_app(workflows=[checking, calling, direct], **store)


async def _detail(client: Client, instance_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"/workflows/instances/{instance_id}", headers=headers)
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


async def _complete_only_task(client: Client, instance_id: str, headers: dict[str, str], data: dict[str, Any]) -> None:
    [task] = (await _detail(client, instance_id, ADMIN))["open_tasks"]
    response = await client.post(f"/workflows/tasks/{task['id']}/complete", json=data, headers=headers)
    assert response.status_code == 200, response.text


async def _child_of(client: Client, plugin: WorkflowPlugin, parent_id: str) -> str:
    parent = in_app(client, plugin.engine.wait_for, UUID(parent_id), 5)
    [child_id] = [token.child_id for token in parent.tokens if token.child_id is not None]
    in_app(client, plugin.engine.wait_for, child_id, 5)
    return str(child_id)


async def test_the_detail_links_parent_and_child_and_the_child_is_visible_with_its_parent(
    client: Client, plugin: WorkflowPlugin
) -> None:
    parent_id = (await start(client, "calling", headers=ALICE))["id"]
    await _complete_only_task(client, parent_id, CAROL, {})
    child_id = await _child_of(client, plugin, parent_id)

    parent = await _detail(client, parent_id, ALICE)
    assert parent["parent_id"] is None
    assert parent["children"] == [{"id": child_id, "workflow": "checking", "status": "waiting"}]
    child = await _detail(client, child_id, ALICE)  # alice started the parent
    assert (child["parent_id"], child["children"], child["workflow"]) == (parent_id, [], "checking")
    await _detail(client, child_id, CAROL)  # carol acted on the parent's task: she sees the parent, so the child
    response = await client.get(f"/workflows/instances/{child_id}", headers=MALLORY)
    assert response.status_code == 403, response.text
    listed = (await client.get("/workflows/instances", params={"workflow": "checking"}, headers=CAROL)).json()
    assert [item["id"] for item in listed["items"]] == [child_id]
    assert (await client.get("/workflows/instances", headers=MALLORY)).json()["items"] == []

    await _complete_only_task(client, child_id, BOB, {"ok": True})
    done = in_app(client, plugin.engine.wait_for, UUID(parent_id), 5)
    assert (done.status.value, done.data) == ("completed", {"ok": True, "finished": True})
    assert (await _detail(client, parent_id, ALICE))["children"][0]["status"] == "completed"


async def test_cancelling_the_parent_over_rest_cancels_the_child(client: Client, plugin: WorkflowPlugin) -> None:
    parent_id = (await start(client, "calling", headers=ALICE))["id"]
    await _complete_only_task(client, parent_id, CAROL, {})
    child_id = await _child_of(client, plugin, parent_id)

    response = await client.post(f"/workflows/instances/{parent_id}/cancel", json={"reason": "withdrawn"})
    assert response.status_code == 200, response.text
    assert response.json()["children"] == [{"id": child_id, "workflow": "checking", "status": "canceled"}]
    assert (await _detail(client, child_id, ALICE))["open_tasks"] == []


async def test_the_graph_draws_the_call_as_a_subroutine_naming_the_child(client: Client) -> None:
    response = await client.get("/workflows/definitions/calling/graph")
    assert response.status_code == 200, response.text
    assert '    check[["check: checking"]]' in response.text.splitlines()


async def test_a_start_answers_with_the_child_its_commit_started_without_reading_anything_back(
    client: Client, plugin: WorkflowPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    for name in ("load_instance", "get_task", "list_tasks", "list_instances"):
        original = getattr(type(plugin.persistence), name)

        def counted(original: Any = original, name: str = name) -> Any:
            async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                reads.append(name)
                return await original(self, *args, **kwargs)

            return call

        monkeypatch.setattr(type(plugin.persistence), name, counted())
    parent = await start(client, "direct", headers=ALICE)
    assert reads == []  # the answer is the start's commit: its open tasks and children included
    monkeypatch.undo()
    child_id = await _child_of(client, plugin, parent["id"])
    assert parent["children"] == [{"id": child_id, "workflow": "checking", "status": "waiting"}]
    assert (await _detail(client, parent["id"], ALICE))["children"] == parent["children"]
