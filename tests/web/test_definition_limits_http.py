"""A definition whose names and texts are at the limits registration enforces runs on SQLite and PostgreSQL.

The limits (``core.definition_limits``, ``core.values.MAX_NAME_LENGTH``) are the database's
column sizes: one character less would refuse definitions the database could store, one more
would let through values PostgreSQL refuses when an instance reaches the step.
"""

from __future__ import annotations

from typing import cast

from litestar.testing import AsyncTestClient
from sqlalchemy import String, Table
from sqlalchemy.orm import DeclarativeBase as Base

from litestar_workflows import BaseHumanStep, WorkflowPlugin
from litestar_workflows.core.definition_limits import MAX_GROUPS_LENGTH, MAX_TITLE_LENGTH, MAX_VERSION_LENGTH
from litestar_workflows.core.values import MAX_NAME_LENGTH
from litestar_workflows.db.models import (
    HumanTaskModel,
    StepExecutionModel,
    WorkflowDefinitionModel,
    WorkflowInstanceModel,
)
from tests.helpers import SetStep, chain
from tests.web.conftest import ADMIN, ALICE, AppFactory, as_user, open_task, start

GROUPS = [f"group{number:03}" + "x" * 90 for number in range(20)]  # 1,981 characters stored


def _length(model: type[Base], column: str) -> int | None:
    column_type = cast("Table", model.__table__).c[column].type
    return column_type.length if isinstance(column_type, String) else None


def test_the_limits_are_the_column_sizes() -> None:
    assert _length(WorkflowDefinitionModel, "name") == MAX_NAME_LENGTH
    assert _length(WorkflowDefinitionModel, "version") == MAX_VERSION_LENGTH
    assert _length(WorkflowInstanceModel, "workflow_version") == MAX_VERSION_LENGTH
    assert _length(WorkflowInstanceModel, "current_step") == MAX_NAME_LENGTH
    assert _length(StepExecutionModel, "step_name") == MAX_NAME_LENGTH
    assert _length(HumanTaskModel, "step_name") == MAX_NAME_LENGTH
    assert _length(HumanTaskModel, "title") == MAX_TITLE_LENGTH
    assert _length(HumanTaskModel, "groups_text") == MAX_GROUPS_LENGTH


async def test_a_definition_at_the_limits_runs(make_app: AppFactory, database_url: str) -> None:
    step = "h" * MAX_NAME_LENGTH
    definition = chain(
        "w" * MAX_NAME_LENGTH,
        [SetStep("s" * MAX_NAME_LENGTH), BaseHumanStep(step, title="T" * MAX_TITLE_LENGTH, candidate_groups=GROUPS)],
        version="v" * MAX_VERSION_LENGTH,
    )
    app = make_app(workflows=[definition], persistence=None, database_url=database_url)
    async with AsyncTestClient(app) as client:
        instance = await start(client, definition.name, headers=ALICE)
        task = await open_task(client, app.plugins.get(WorkflowPlugin), instance["id"])
        assert (task["title"], task["candidate_groups"]) == ("T" * MAX_TITLE_LENGTH, GROUPS)
        member = as_user("gina", GROUPS[-1])
        listed = (await client.get("/workflows/tasks", headers=member)).json()
        assert [item["id"] for item in listed["items"]] == [task["id"]]
        done = await client.post(f"/workflows/tasks/{task['id']}/complete", json={}, headers=member)
        assert done.status_code == 200, done.text
        detail = (await client.get(f"/workflows/instances/{instance['id']}", headers=ADMIN)).json()
        assert detail["status"] == "completed"
