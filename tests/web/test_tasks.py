"""``/workflows/tasks``: the inbox, claim/release, complete, reassign, and who may do what."""

from __future__ import annotations

from typing import Any

from litestar_workflows import TaskStatus, WorkflowPlugin
from tests.web.conftest import ADMIN, BOB, CAROL, NOBODY, Client, as_user, in_app, open_task, settle, start

ALICE = as_user("alice", "employees")
BOB2 = as_user("bobby", "managers")


async def _approval_task(client: Client, plugin: WorkflowPlugin) -> tuple[str, str]:
    instance = await start(client, "approval", {"amount": 10})
    task = await open_task(client, plugin, instance["id"])
    return instance["id"], task["id"]


async def test_task_endpoints_need_an_identity(client: Client, plugin: WorkflowPlugin) -> None:
    _, task_id = await _approval_task(client, plugin)
    for method, url, body in [
        ("GET", "/workflows/tasks", None),
        ("GET", f"/workflows/tasks/{task_id}", None),
        ("POST", f"/workflows/tasks/{task_id}/claim", None),
        ("POST", f"/workflows/tasks/{task_id}/release", None),
        ("POST", f"/workflows/tasks/{task_id}/complete", {"approved": True}),
        ("POST", f"/workflows/tasks/{task_id}/reassign", {"assignee": "x"}),
    ]:
        response = await client.request(method, url, json=body, headers=NOBODY)
        assert response.status_code == 401, url
        assert response.json() == {"status_code": 401, "detail": "the workflow API needs an authenticated caller"}


async def test_inbox_lists_only_tasks_the_caller_may_act_on(client: Client, plugin: WorkflowPlugin) -> None:
    await _approval_task(client, plugin)
    assigned = await start(client, "assigned", {"owner": "carol"})
    anyone = await start(client, "open")
    await settle(client, plugin, assigned["id"])
    await settle(client, plugin, anyone["id"])

    def steps(body: dict[str, Any]) -> list[str]:
        return [item["step"] for item in body["items"]]

    bob = (await client.get("/workflows/tasks", headers=BOB)).json()
    assert steps(bob) == ["approve", "anyone"]
    assert bob["total"] == 2
    carol = (await client.get("/workflows/tasks", headers=CAROL)).json()
    assert steps(carol) == ["review", "anyone"]
    admin = (await client.get("/workflows/tasks", headers=ADMIN)).json()
    assert steps(admin) == ["approve", "review", "anyone"]
    mine = (await client.get("/workflows/tasks", params={"mine": "true"}, headers=CAROL)).json()
    assert steps(mine) == ["review"]
    nobody = (await client.get("/workflows/tasks", params={"mine": "true", "assignee": "bob"}, headers=CAROL)).json()
    assert nobody["total"] == 0


async def test_inbox_filters_and_pages(client: Client, plugin: WorkflowPlugin) -> None:
    first, _ = await _approval_task(client, plugin)
    await _approval_task(client, plugin)
    anyone = await start(client, "open")
    await settle(client, plugin, anyone["id"])
    by_group = (await client.get("/workflows/tasks", params={"candidate_group": "managers"}, headers=ADMIN)).json()
    assert by_group["total"] == 2
    by_workflow = (await client.get("/workflows/tasks", params={"workflow": "open"}, headers=ADMIN)).json()
    assert [item["step"] for item in by_workflow["items"]] == ["anyone"]
    by_instance = (await client.get("/workflows/tasks", params={"instance_id": first}, headers=ADMIN)).json()
    assert [item["instance_id"] for item in by_instance["items"]] == [first]
    page = (await client.get("/workflows/tasks", params={"limit": 1, "offset": 1}, headers=ADMIN)).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (3, 1, 1, 1)
    done = (await client.get("/workflows/tasks", params={"status": "completed"}, headers=ADMIN)).json()
    assert done["total"] == 0
    bad = await client.get("/workflows/tasks", params={"status": "finished"}, headers=ADMIN)
    assert bad.status_code == 400
    assert bad.json()["extra"][0]["key"] == "status"


async def test_task_detail_has_form_due_time_and_instance_link(client: Client, plugin: WorkflowPlugin) -> None:
    instance_id, task_id = await _approval_task(client, plugin)
    response = await client.get(f"/workflows/tasks/{task_id}", headers=BOB)
    assert response.status_code == 200
    task = response.json()
    assert task["form_schema"]["required"] == ["approved"]
    assert task["due_at"] is None
    assert task["overdue"] is False
    assert task["instance_url"] == f"/workflows/instances/{instance_id}"
    assert (await client.get(task["instance_url"])).status_code == 200
    assert (await client.get(f"/workflows/tasks/{task_id}", headers=CAROL)).status_code == 403
    missing = await client.get("/workflows/tasks/00000000-0000-0000-0000-000000000000", headers=BOB)
    assert missing.status_code == 404


async def test_complete_records_the_caller_and_moves_on(client: Client, plugin: WorkflowPlugin) -> None:
    instance_id, task_id = await _approval_task(client, plugin)
    response = await client.post(
        f"/workflows/tasks/{task_id}/complete",
        json={"approved": True, "comment": "fine", "completed_by": "mallory", "amount": 10_000},
        headers=BOB,
    )
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "completed"
    assert task["completed_by"] == "bob"
    assert task["data"] == {"approved": True, "comment": "fine"}  # undeclared fields are dropped
    await settle(client, plugin, instance_id)
    instance = (await client.get(f"/workflows/instances/{instance_id}")).json()
    assert instance["status"] == "completed"
    assert instance["data"]["amount"] == 10
    approve = next(step for step in instance["history"] if step["step"] == "approve")
    assert approve["completed_by"] == "bob"


async def test_invalid_form_data_is_400_per_field_and_changes_nothing(client: Client, plugin: WorkflowPlugin) -> None:
    _, task_id = await _approval_task(client, plugin)
    response = await client.post(f"/workflows/tasks/{task_id}/complete", json={"comment": "x" * 30}, headers=BOB)
    assert response.status_code == 400
    error = response.json()
    assert error["status_code"] == 400
    assert "does not match its form" in error["detail"]
    fields = {item["key"]: item["message"] for item in error["extra"]}
    assert fields["approved"] == "is required"
    assert "too long" in fields["comment"]
    assert all(item["source"] == "body" for item in error["extra"])
    not_object = await client.post(f"/workflows/tasks/{task_id}/complete", json=[1], headers=BOB)
    assert not_object.status_code == 400
    task = in_app(client, plugin.persistence.get_task, _uuid(task_id))
    assert task is not None and task.status is TaskStatus.OPEN


async def test_others_get_403_and_nothing_changes(client: Client, plugin: WorkflowPlugin) -> None:
    _, task_id = await _approval_task(client, plugin)
    for headers in [CAROL, ALICE]:
        for action, body in [("claim", None), ("complete", {"approved": True})]:
            response = await client.post(f"/workflows/tasks/{task_id}/{action}", json=body, headers=headers)
            assert response.status_code == 403, (headers, action)
            assert response.json()["status_code"] == 403
    task = in_app(client, plugin.persistence.get_task, _uuid(task_id))
    assert task is not None and task.status is TaskStatus.OPEN and task.claimed_by is None


async def test_assigned_task_is_for_the_assignee_and_admins(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "assigned", {"owner": "carol"})
    task = await open_task(client, plugin, instance["id"])
    assert task["assignee"] == "carol"
    as_other_finance = as_user("frank", "finance")
    denied = await client.post(f"/workflows/tasks/{task['id']}/complete", json={}, headers=as_other_finance)
    assert denied.status_code == 403
    done = await client.post(f"/workflows/tasks/{task['id']}/complete", json={}, headers=ADMIN)
    assert done.status_code == 200
    assert done.json()["completed_by"] == "root"


async def test_open_task_is_for_any_identified_user(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "open")
    task = await open_task(client, plugin, instance["id"])
    done = await client.post(f"/workflows/tasks/{task['id']}/complete", json={}, headers=ALICE)
    assert done.status_code == 200
    assert done.json()["completed_by"] == "alice"


async def test_completing_twice_is_409(client: Client, plugin: WorkflowPlugin) -> None:
    _, task_id = await _approval_task(client, plugin)
    first = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": False}, headers=BOB)
    assert first.status_code == 200
    for action, body in [("complete", {"approved": True}), ("claim", None), ("release", None)]:
        again = await client.post(f"/workflows/tasks/{task_id}/{action}", json=body, headers=BOB)
        assert again.status_code == 409, action
        assert "already completed" in again.json()["detail"]


async def test_task_of_a_cancelled_instance_is_409(client: Client, plugin: WorkflowPlugin) -> None:
    instance_id, task_id = await _approval_task(client, plugin)
    await client.post(f"/workflows/instances/{instance_id}/cancel", json={"reason": "withdrawn"})
    response = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True}, headers=BOB)
    assert response.status_code == 409
    assert "canceled" in response.json()["detail"]


async def test_claim_makes_the_task_the_claimers_until_released(client: Client, plugin: WorkflowPlugin) -> None:
    _, task_id = await _approval_task(client, plugin)
    claimed = await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)
    assert claimed.status_code == 200
    assert claimed.json()["claimed_by"] == "bob"
    assert (await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)).status_code == 200  # idempotent
    taken = await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB2)
    assert taken.status_code == 409
    assert "claimed by 'bob'" in taken.json()["detail"]
    blocked = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True}, headers=BOB2)
    assert blocked.status_code == 409
    not_yours = await client.post(f"/workflows/tasks/{task_id}/release", headers=BOB2)
    assert not_yours.status_code == 403
    released = await client.post(f"/workflows/tasks/{task_id}/release", headers=BOB)
    assert released.status_code == 200
    assert released.json()["claimed_by"] is None
    assert (await client.post(f"/workflows/tasks/{task_id}/release", headers=BOB)).status_code == 200  # no claim
    done = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True}, headers=BOB2)
    assert done.status_code == 200


async def test_admin_may_take_over_and_release_a_claim(client: Client, plugin: WorkflowPlugin) -> None:
    _, task_id = await _approval_task(client, plugin)
    await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)
    assert (await client.post(f"/workflows/tasks/{task_id}/release", headers=ADMIN)).json()["claimed_by"] is None
    await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)
    taken = await client.post(f"/workflows/tasks/{task_id}/claim", headers=ADMIN)
    assert taken.json()["claimed_by"] == "root"


async def test_reassign_by_assignee_or_admin_only(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "assigned", {"owner": "carol"})
    task = await open_task(client, plugin, instance["id"])
    url = f"/workflows/tasks/{task['id']}/reassign"
    assert (await client.post(url, json={"assignee": "bob"}, headers=BOB)).status_code == 403
    moved = await client.post(url, json={"assignee": "bob"}, headers=CAROL)
    assert moved.status_code == 200
    assert moved.json()["assignee"] == "bob"
    assert (await client.post(url, json={"assignee": "carol"}, headers=CAROL)).status_code == 403
    assert (await client.get(f"/workflows/tasks/{task['id']}", headers=BOB)).status_code == 200
    unassigned = await client.post(url, json={"assignee": None}, headers=ADMIN)
    assert unassigned.json()["assignee"] is None
    for body in [{}, {"assignee": ""}, {"assignee": "x", "claimed_by": "y"}]:
        assert (await client.post(url, json=body, headers=ADMIN)).status_code == 400, body


async def test_group_task_can_only_be_reassigned_by_admins(client: Client, plugin: WorkflowPlugin) -> None:
    _, task_id = await _approval_task(client, plugin)
    url = f"/workflows/tasks/{task_id}/reassign"
    assert (await client.post(url, json={"assignee": "bob"}, headers=BOB)).status_code == 403
    moved = await client.post(url, json={"assignee": "bobby"}, headers=ADMIN)
    assert moved.json()["assignee"] == "bobby"
    assert (await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)).status_code == 403
    done = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True}, headers=BOB2)
    assert done.status_code == 200


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)
