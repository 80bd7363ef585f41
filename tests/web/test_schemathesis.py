"""Property-based API tests: schemathesis drives the expense example app from its own OpenAPI schema.

Every operation gets generated requests (valid and invalid ones) as an admin, as an ordinary
user and anonymously; each response must not be a server error and must match the documented
status codes, media types and body schemas. The app runs on a SQLite file with a few expenses
already in flight, and path parameters are often drawn from their ids, so the handlers behind
the 404s get exercised too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.python.asgi import ASGIApp, ASGIClient, get_client, shutdown_lifespans
from schemathesis.specs.openapi.checks import positive_data_acceptance

from examples.expense.app import create_app
from litestar_workflows import InMemoryPersistence

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ADMIN = {"X-User": "admin"}
ALICE = {"X-User": "alice"}
BOB = {"X-User": "bob"}
CAROL = {"X-User": "carol"}
DAVE = {"X-User": "dave"}


@dataclass
class Seeded:
    """Ids of the expenses (and their tasks) created before the run."""

    instance_ids: list[str]
    task_ids: list[str]


def _wait_for_tasks(client: ASGIClient, instance_id: str, count: int) -> list[dict[str, Any]]:
    for _ in range(200):
        detail = client.get(f"/workflows/instances/{instance_id}", headers=ADMIN).json()
        if len(detail["open_tasks"]) >= count:
            tasks: list[dict[str, Any]] = detail["open_tasks"]
            return tasks
        time.sleep(0.02)  # the machine steps run on the app's own thread
    raise AssertionError(f"instance {instance_id} did not open {count} task(s)")


def _seed(client: ASGIClient) -> Seeded:
    """Expenses waiting for a manager, in parallel review, finished and cancelled."""
    instance_ids: list[str] = []
    task_ids: list[str] = []
    for amount in (2500, 2500, 80, 120):
        body: dict[str, Any] = {"workflow": "expense", "data": {"amount": amount, "description": "seed"}}
        response = client.post("/workflows/instances", json=body, headers=ALICE)
        assert response.status_code == 201, response.text
        instance_ids.append(response.json()["id"])
    waiting, reviewing, finished, cancelled = instance_ids
    task_ids.extend(task["id"] for task in _wait_for_tasks(client, waiting, 1))
    for instance_id in (reviewing, finished):
        [manager] = _wait_for_tasks(client, instance_id, 1)
        done = client.post(f"/workflows/tasks/{manager['id']}/complete", json={"manager_approved": True}, headers=BOB)
        assert done.status_code == 200, done.text
        task_ids.append(manager["id"])
    task_ids.extend(task["id"] for task in _wait_for_tasks(client, reviewing, 2))
    [finance] = _wait_for_tasks(client, finished, 1)
    done = client.post(f"/workflows/tasks/{finance['id']}/complete", json={"finance_approved": False}, headers=CAROL)
    assert done.status_code == 200, done.text
    task_ids.append(finance["id"])
    canceled = client.post(f"/workflows/instances/{cancelled}/cancel", json={"reason": "seed"}, headers=ADMIN)
    assert canceled.status_code == 200, canceled.text
    return Seeded(instance_ids, task_ids)


@pytest.fixture(scope="module")
def expense_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ASGIClient, Seeded]]:
    """The app on a SQLite file, running (lifespan started) for the whole module."""
    database = tmp_path_factory.mktemp("schemathesis") / "expense.sqlite3"
    app = create_app(database_url=f"sqlite+aiosqlite:///{database}")
    try:
        with get_client(cast("ASGIApp", app)) as client:
            yield client, _seed(client)
    finally:
        shutdown_lifespans()


@pytest.fixture(scope="module")
def expense_client(expense_app: tuple[ASGIClient, Seeded]) -> ASGIClient:
    return expense_app[0]


@pytest.fixture(scope="module")
def seeded(expense_app: tuple[ASGIClient, Seeded]) -> Seeded:
    return expense_app[1]


# The schema is a property of the code: read it from an app that never starts (no database).
schema = schemathesis.openapi.from_dict(create_app(InMemoryPersistence()).openapi_schema.to_schema())

EXAMPLES = int(os.environ.get("LSW_SCHEMATHESIS_EXAMPLES", "25"))
"""Generated requests per operation and caller; raise it (with a random seed) for a longer exploration."""

RUN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("LSW_SCHEMATHESIS_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow],
)


def _use_seeded_ids(case: schemathesis.Case[Any], data: st.DataObject, seeded: Seeded) -> None:
    """Often point the path at a seeded instance or task (else a random UUID only ever finds a 404)."""
    path = case.path_parameters or {}
    for key, known in (("instance_id", seeded.instance_ids), ("task_id", seeded.task_ids)):
        if key in path and data.draw(st.booleans(), label=f"seeded {key}"):
            path[key] = data.draw(st.sampled_from(known), label=key)
    if "name" in path and data.draw(st.booleans(), label="seeded name"):
        path["name"] = "expense"


FORM_OPERATION = "POST /workflows/tasks/{task_id}/complete"
"""Its body is checked against the task's own form, which the OpenAPI schema cannot know: a body the schema
allows may still be a 400 naming the failing field, so the check that schema-valid bodies are accepted is skipped."""
START_OPERATION = "POST /workflows/instances"
"""Its ``data`` may be any JSON object as far as the schema says, but no key or string in it may hold a NUL
character (the schema's description says so; a JSON schema cannot state it for values at any depth): a 400."""


def _run(
    case: schemathesis.Case[Any], data: st.DataObject, client: ASGIClient, seeded: Seeded, headers: dict[str, str]
) -> None:
    _use_seeded_ids(case, data, seeded)
    excluded: list[schemathesis.CheckFunction] = (
        [positive_data_acceptance] if case.operation.label in {FORM_OPERATION, START_OPERATION} else []
    )
    case.call_and_validate(
        base_url=client.base_url, session=client, headers=headers, excluded_checks=excluded, timeout=5
    )


@schema.parametrize()
@schema.given(data=st.data())
@RUN
def test_api_as_admin(
    case: schemathesis.Case[Any], data: st.DataObject, expense_client: ASGIClient, seeded: Seeded
) -> None:
    _run(case, data, expense_client, seeded, ADMIN)


@schema.parametrize()
@schema.given(data=st.data())
@RUN
def test_api_as_user(
    case: schemathesis.Case[Any], data: st.DataObject, expense_client: ASGIClient, seeded: Seeded
) -> None:
    _run(case, data, expense_client, seeded, DAVE)


@schema.parametrize()
@schema.given(data=st.data())
@RUN
def test_api_anonymous(
    case: schemathesis.Case[Any], data: st.DataObject, expense_client: ASGIClient, seeded: Seeded
) -> None:
    _run(case, data, expense_client, seeded, {})
