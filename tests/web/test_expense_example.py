"""The expense example app end to end, with the demo ``X-User``/``X-Groups`` authentication."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from examples.expense.app import create_app, expense_workflow
from examples.minimal.app import create_app as create_minimal_app
from examples.minimal.app import greeting
from litestar_workflows import InMemoryPersistence, WorkflowPlugin, WorkflowPluginConfig
from tests.web.conftest import Client

ALICE = {"X-User": "alice"}
BOB = {"X-User": "bob"}
CAROL = {"X-User": "carol"}
DAVE = {"X-User": "dave"}
ADMIN = {"X-User": "admin"}


@pytest.fixture
async def expense() -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(InMemoryPersistence())) as client:
        yield client


async def submit(client: Client, amount: float) -> str:
    expense = {"amount": amount, "description": "team dinner"}
    spoofed = await client.post(
        "/workflows/instances", json={"workflow": "expense", "data": {**expense, "requester": "bob"}}, headers=ALICE
    )
    assert spoofed.status_code == 400, spoofed.text  # the requester is not part of the request...
    response = await client.post("/workflows/instances", json={"workflow": "expense", "data": expense}, headers=ALICE)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["requester"] == "alice"  # ...it is the caller's identity
    instance_id: str = response.json()["id"]
    return instance_id


async def inbox(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/workflows/tasks", params={"status": "open"}, headers=headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def wait_for_tasks(client: Client, headers: dict[str, str], count: int) -> list[dict[str, Any]]:
    for _ in range(100):
        tasks = await inbox(client, headers)
        if len(tasks) >= count:
            return tasks
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} task(s) for {headers}")


async def instance(client: Client, instance_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The instance as its requester, alice, sees it (or as ``headers`` name the caller)."""
    response = await client.get(f"/workflows/instances/{instance_id}", headers=ALICE if headers is None else headers)
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


async def wait_until_finished(
    client: Client, instance_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    for _ in range(100):
        detail = await instance(client, instance_id, headers)
        if detail["status"] in {"completed", "failed", "canceled"}:
            return detail
        await asyncio.sleep(0.02)
    raise AssertionError("the instance did not finish")


async def complete(client: Client, task: dict[str, Any], headers: dict[str, str], **form: Any) -> int:
    response = await client.post(f"/workflows/tasks/{task['id']}/complete", json=form, headers=headers)
    return response.status_code


async def test_large_expense_needs_manager_finance_and_legal(expense: Client) -> None:
    instance_id = await submit(expense, 2500)
    [manager_task] = await wait_for_tasks(expense, BOB, 1)
    assert manager_task["step"] == "manager_approval"
    assert await inbox(expense, CAROL) == []
    assert await inbox(expense, ALICE) == []
    assert await complete(expense, manager_task, CAROL, manager_approved=True) == 403
    assert await complete(expense, manager_task, ALICE, manager_approved=True) == 403
    assert await complete(expense, manager_task, BOB, approved=True) == 400  # wrong field: the form says which
    assert await complete(expense, manager_task, BOB, manager_approved=True, manager_comment="ok") == 200

    [finance_task] = await wait_for_tasks(expense, CAROL, 1)
    [legal_task] = await wait_for_tasks(expense, DAVE, 1)
    assert (finance_task["step"], legal_task["step"]) == ("finance_review", "legal_review")
    assert await complete(expense, legal_task, CAROL, legal_approved=True) == 403
    assert await complete(expense, finance_task, CAROL, finance_approved=True) == 200
    assert (await instance(expense, instance_id))["status"] == "waiting"  # the join waits for legal
    assert await complete(expense, legal_task, DAVE, legal_approved=True) == 200

    done = await wait_until_finished(expense, instance_id)
    assert done["status"] == "completed"
    assert done["data"]["outcome"] == "paid"
    completed_by = {step["step"]: step["completed_by"] for step in done["history"] if step["completed_by"]}
    assert completed_by == {"manager_approval": "bob", "finance_review": "carol", "legal_review": "dave"}


async def test_small_expense_skips_legal(expense: Client) -> None:
    instance_id = await submit(expense, 80)
    [manager_task] = await wait_for_tasks(expense, BOB, 1)
    assert await complete(expense, manager_task, BOB, manager_approved=True) == 200
    [finance_task] = await wait_for_tasks(expense, CAROL, 1)
    assert await inbox(expense, DAVE) == []
    assert await complete(expense, finance_task, CAROL, finance_approved=False, finance_comment="no budget") == 200
    done = await wait_until_finished(expense, instance_id)
    assert done["data"]["outcome"] == "rejected"


async def test_manager_rejection_ends_it(expense: Client) -> None:
    instance_id = await submit(expense, 80)
    [manager_task] = await wait_for_tasks(expense, BOB, 1)
    assert await complete(expense, manager_task, BOB, manager_approved=False) == 200
    done = await wait_until_finished(expense, instance_id)
    assert done["data"]["outcome"] == "rejected"
    assert await inbox(expense, CAROL) == []


async def test_admin_sees_and_completes_everything(expense: Client) -> None:
    await submit(expense, 80)
    [task] = await wait_for_tasks(expense, ADMIN, 1)
    assert await complete(expense, task, ADMIN, manager_approved=True) == 200


async def test_x_groups_header_overrides_the_demo_groups(expense: Client) -> None:
    await submit(expense, 80)
    await wait_for_tasks(expense, BOB, 1)
    assert await inbox(expense, {"X-User": "erin", "X-Groups": "managers, sales"}) != []
    assert await inbox(expense, {"X-User": "bob", "X-Groups": ""}) == []
    anonymous = await expense.get("/workflows/tasks")
    assert anonymous.status_code == 401


async def test_bad_expense_is_refused_and_starts_nothing(expense: Client) -> None:
    response = await expense.post(
        "/workflows/instances", json={"workflow": "expense", "data": {"amount": -5}}, headers=ALICE
    )
    assert response.status_code == 400, response.text
    problems = {item["key"]: item["message"] for item in response.json()["extra"]}
    assert problems == {"amount": "Expected `float` > 0.0", "description": "is required"}
    assert (await expense.get("/workflows/instances", headers=ALICE)).json()["total"] == 0
    schema = (await expense.get("/workflows/definitions/expense", headers=ALICE)).json()["input_schema"]
    assert schema["required"] == ["amount", "description"]


async def test_a_reviewer_cannot_overwrite_the_amount(expense: Client) -> None:
    instance_id = await submit(expense, 80)
    [manager_task] = await wait_for_tasks(expense, BOB, 1)
    assert await complete(expense, manager_task, BOB, manager_approved=True, amount=1) == 400
    assert await complete(expense, manager_task, BOB, manager_approved=True) == 200
    assert (await instance(expense, instance_id))["data"]["amount"] == 80


async def test_overdue_manager_task_is_escalated_to_admin() -> None:
    app = create_app(InMemoryPersistence(), escalate_after=timedelta(0), escalation_interval=0.02)
    async with AsyncTestClient(app) as client:
        await submit(client, 80)
        for _ in range(100):
            tasks = await inbox(client, ADMIN)
            if tasks and tasks[0]["assignee"] == "admin":
                break
            await asyncio.sleep(0.02)
        [task] = tasks
        assert task["assignee"] == "admin"
        assert task["overdue"] is True
        assert await inbox(client, BOB) == []
        assert await complete(client, task, BOB, manager_approved=True) == 403
        mine = (await client.get("/workflows/tasks", params={"mine": "true"}, headers=ADMIN)).json()
        assert [item["id"] for item in mine["items"]] == [task["id"]]
        assert await complete(client, task, ADMIN, manager_approved=True) == 200


def test_expense_definition_is_valid_and_drawn() -> None:
    definition = expense_workflow()
    assert definition.validate() == []
    assert "legal_and_finance" in definition.to_mermaid()


async def test_minimal_example_runs_its_greeting() -> None:
    config = WorkflowPluginConfig(workflows=[greeting], persistence=InMemoryPersistence(), allow_anonymous=True)
    app: Litestar = create_minimal_app(config)
    async with AsyncTestClient(app) as client:
        started = await client.post("/hello/Ada")
        assert started.status_code == 201
        instance_id = started.json()["instance_id"]
        done = await wait_until_finished(client, instance_id, headers={})  # anonymous, as the example allows
        assert done["data"]["shouted"] == "HELLO, ADA!"
        assert app.plugins.get(WorkflowPlugin).registry.get_versions("greeting") == ["1"]
