"""Forms over REST: what a form-less or typed task accepts, and the schemas clients are shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from litestar_workflows import BaseHumanStep, WorkflowContext, WorkflowPlugin
from tests.helpers import FuncStep, SetStep, chain
from tests.web.conftest import ADMIN, ALICE, AppFactory, Client, open_task, settle, start


class Decision(msgspec.Struct, kw_only=True):
    approved: bool
    reason: Annotated[str, msgspec.Meta(min_length=3)] | None = None


async def _confirm(context: WorkflowContext) -> None:
    decision = context.get_form(Decision)  # a later step reads the form back typed
    context.set("confirmed", f"approved={decision.approved} reason={decision.reason}")


@pytest.fixture
async def forms(make_app: AppFactory) -> AsyncIterator[tuple[Client, WorkflowPlugin]]:
    workflows = [
        chain("formless", [SetStep("submit", "amount", 500), BaseHumanStep("review"), SetStep("end")]),
        chain(
            "typed",
            [SetStep("submit", "amount", 500), BaseHumanStep("approve", form=Decision), FuncStep("confirm", _confirm)],
        ),
    ]
    app = make_app(workflows=workflows)
    async with AsyncTestClient(app) as client:
        client.headers.update(ALICE)
        yield client, app.plugins.get(WorkflowPlugin)


def _extra_keys(body: dict[str, Any]) -> dict[str, str]:
    return {item["key"]: item["message"] for item in body["extra"]}


async def test_a_form_less_task_refuses_data_and_changes_nothing(forms: tuple[Client, WorkflowPlugin]) -> None:
    client, plugin = forms
    instance = await start(client, "formless", {"requester": "ann"})
    task = await open_task(client, plugin, instance["id"])
    url = f"/workflows/tasks/{task['id']}/complete"

    refused = await client.post(url, json={"amount": 1, "requester": "mallory"}, headers=ADMIN)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["detail"] == "step 'review' has no form; it accepts no data: got 'amount', 'requester'"
    assert _extra_keys(body) == dict.fromkeys(["amount", "requester"], "is not accepted: the step has no form")
    detail = (await client.get(f"/workflows/instances/{instance['id']}")).json()
    assert detail["data"] == {"requester": "ann", "amount": 500}
    assert [open_task["id"] for open_task in detail["open_tasks"]] == [task["id"]]

    assert (await client.post(url, json={}, headers=ADMIN)).status_code == 200


async def test_a_typed_form_over_rest(forms: tuple[Client, WorkflowPlugin]) -> None:
    client, plugin = forms
    instance = await start(client, "typed")
    task = await open_task(client, plugin, instance["id"])

    shown = (await client.get(f"/workflows/tasks/{task['id']}", headers=ADMIN)).json()["form_schema"]
    assert shown["properties"]["approved"] == {"type": "boolean"}
    assert (shown["required"], shown["additionalProperties"]) == (["approved"], False)
    steps = (await client.get("/workflows/definitions/typed")).json()["steps"]
    assert next(step for step in steps if step["name"] == "approve")["form_schema"] == shown

    url = f"/workflows/tasks/{task['id']}/complete"
    refused = await client.post(url, json={"approved": "yes", "reason": "no", "amount": 0}, headers=ADMIN)
    assert refused.status_code == 400, refused.text
    assert refused.json()["extra"] == [
        {"key": "amount", "message": "is not a field of Decision", "source": "body"},
        {"key": "approved", "message": "Expected `bool`, got `str`", "source": "body"},
        {"key": "reason", "message": "Expected `str` of length >= 3", "source": "body"},
    ]
    missing = await client.post(url, json={}, headers=ADMIN)
    assert (missing.status_code, _extra_keys(missing.json())) == (400, {"approved": "is required"})
    assert (await client.get(f"/workflows/instances/{instance['id']}")).json()["data"] == {"amount": 500}

    done = await client.post(url, json={"approved": True, "reason": "fine"}, headers=ADMIN)
    assert done.status_code == 200, done.text
    assert done.json()["data"] == {"approved": True, "reason": "fine"}
    await settle(client, plugin, instance["id"])
    final = (await client.get(f"/workflows/instances/{instance['id']}")).json()
    assert final["status"] == "completed"
    assert final["data"] == {
        "amount": 500,
        "approved": True,
        "reason": "fine",
        "confirmed": "approved=True reason=fine",
    }


class Order(msgspec.Struct, kw_only=True):
    quantity: Annotated[int, msgspec.Meta(ge=1)]
    note: str = ""


@pytest.fixture
async def typed_start(make_app: AppFactory) -> AsyncIterator[Client]:
    order = chain("order", [SetStep("end", "ended", True)])
    order.input_type = Order
    async with AsyncTestClient(make_app(workflows=[order], started_by_key="requester")) as client:
        client.headers.update(ALICE)
        yield client


async def test_a_typed_start_refuses_bad_data_and_creates_nothing(typed_start: Client) -> None:
    client = typed_start
    for headers in ({}, {"Idempotency-Key": "order-1"}):
        refused = await client.post(
            "/workflows/instances",
            json={"workflow": "order", "data": {"quantity": 0, "requester": "mallory"}},
            headers={**ADMIN, **headers},
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["detail"].startswith("start data of workflow 'order' does not match Order")
        assert _extra_keys(refused.json()) == {
            "requester": "is not a field of Order",
            "quantity": "Expected `int` >= 1",
        }
    listed = (await client.get("/workflows/instances")).json()
    assert (listed["items"], listed["total"]) == ([], 0)

    started = await client.post(
        "/workflows/instances", json={"workflow": "order", "data": {"quantity": 2}}, headers=ADMIN
    )
    assert started.status_code == 201, started.text
    assert started.json()["data"] == {"quantity": 2, "note": "", "requester": "root"}  # the caller, added after


async def test_the_definition_detail_shows_the_start_input_schema(typed_start: Client) -> None:
    detail = (await typed_start.get("/workflows/definitions/order")).json()
    assert detail["input_schema"]["properties"] == {
        "quantity": {"type": "integer", "minimum": 1},
        "note": {"type": "string", "default": ""},
    }
    assert detail["input_schema"]["required"] == ["quantity"]
