"""A Litestar app written for litestar-workflows 0.3 runs with the upgrade page's one-line change.

The app is shaped as 0.3's documentation and examples showed: a workflow class with a
``get_definition()`` classmethod registered through the plugin config, step classes with class-level
``name``/``title``/``form_schema``, and handlers of its own that receive the engine and the
registry by their dependency names (annotated with the classes, not ``NamedDependency``), start an
instance from its workflow class, read ``current_step`` and ``context.data``, complete the human
task with 0.3's keyword arguments and draw the definition with ``to_mermaid()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar import Controller, Litestar, get, post
from litestar.testing import AsyncTestClient

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    LocalExecutionEngine,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowPlugin,
    WorkflowPluginConfig,
    WorkflowRegistry,
)
from tests.web.conftest import in_app


class ValidateOrder(BaseMachineStep):
    async def execute(self, context: WorkflowContext) -> dict[str, Any]:
        valid = bool(context.get("order_id") and context.get("items"))
        context.set("validation_passed", valid)
        return {"valid": valid}


class ManagerApproval(BaseHumanStep):
    name = "manager_approval"
    title = "Approve the order"
    form_schema = {  # noqa: RUF012 - the class attribute 0.3's examples declared
        "type": "object",
        "properties": {"approved": {"type": "boolean"}, "comments": {"type": "string"}},
        "required": ["approved"],
    }


class ShipOrder(BaseMachineStep):
    async def execute(self, context: WorkflowContext) -> None:
        context.set("tracking_number", f"TRACK-{context.get('order_id')}")


class OrderWorkflow:
    __workflow_name__ = "order_processing"

    @classmethod
    def get_definition(cls) -> WorkflowDefinition:
        return WorkflowDefinition(
            name=cls.__workflow_name__,
            version="1.0.0",
            description="validate, approve, ship",
            steps={
                "validate_order": ValidateOrder(name="validate_order", description="check the order"),
                "manager_approval": ManagerApproval(),
                "ship_order": ShipOrder(name="ship_order", description="ship it"),
            },
            edges=[
                Edge(source="validate_order", target="manager_approval"),
                Edge(source="manager_approval", target="ship_order"),
            ],
            initial_step="validate_order",
            terminal_steps={"ship_order"},
        )


class OrderController(Controller):
    path = "/orders"

    @get("/")
    async def list_workflows(self, workflow_registry: WorkflowRegistry) -> list[dict[str, Any]]:
        return [{"name": d.name, "steps": list(d.steps)} for d in workflow_registry.list_definitions()]

    @get("/{name:str}")
    async def get_workflow(self, name: str, workflow_registry: WorkflowRegistry) -> dict[str, Any]:
        definition = workflow_registry.get_definition(name)
        edges = [[edge.get_source_name(), edge.get_target_name()] for edge in definition.edges]
        return {"edges": edges, "mermaid": definition.to_mermaid()}

    @post("/{name:str}/start")
    async def start(
        self,
        name: str,
        data: dict[str, Any],
        workflow_engine: LocalExecutionEngine,
        workflow_registry: WorkflowRegistry,
    ) -> dict[str, Any]:
        workflow_class = workflow_registry.get_workflow_class(name)
        instance = await workflow_engine.start_workflow(workflow_class, initial_data=data)
        return {"instance_id": str(instance.id), "status": instance.status.value}

    @get("/instances/{instance_id:uuid}")
    async def get_instance(self, instance_id: UUID, workflow_engine: LocalExecutionEngine) -> dict[str, Any]:
        instance = await workflow_engine.get_instance(instance_id)
        return {
            "status": instance.status.value,
            "current_step": instance.current_step,
            "data": instance.context.data,
            "error": instance.error,
        }

    @post("/instances/{instance_id:uuid}/approve")
    async def approve(
        self, instance_id: UUID, data: dict[str, Any], workflow_engine: LocalExecutionEngine
    ) -> dict[str, Any]:
        instance = await workflow_engine.complete_human_task(
            instance_id=instance_id, step_name="manager_approval", user_id="manager@example.com", data=data
        )
        return {"status": instance.status.value}


def test_03s_config_argument_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="auto_register_workflows"):
        WorkflowPluginConfig(auto_register_workflows=[OrderWorkflow])  # type: ignore[call-arg]  # 0.3's spelling


# Litestar 2.25 warns about the handlers' 2.x style (a dependency found by its name only, as 0.3's docs
# showed, and a body without a marker): both stop working in Litestar 3, not here. docs/upgrading.md
# gives the NamedDependency spelling. The app runs as it is.
@pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning")
async def test_an_03_app_runs_with_the_documented_rename(tmp_path: Path) -> None:
    # 0.3: WorkflowPluginConfig(auto_register_workflows=[OrderWorkflow]); docs/upgrading.md renames it.
    # (The database URL only keeps the test's file out of the working directory.)
    config = WorkflowPluginConfig(workflows=[OrderWorkflow], database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    app = Litestar(route_handlers=[OrderController], plugins=[WorkflowPlugin(config=config)])
    async with AsyncTestClient(app) as client:
        listed = await client.get("/orders/")
        assert listed.json() == [
            {"name": "order_processing", "steps": ["validate_order", "manager_approval", "ship_order"]}
        ]
        shown = (await client.get("/orders/order_processing")).json()
        assert shown["edges"] == [["validate_order", "manager_approval"], ["manager_approval", "ship_order"]]
        assert "manager_approval" in shown["mermaid"]
        started = await client.post("/orders/order_processing/start", json={"order_id": 7, "items": ["book"]})
        assert started.status_code == 201, started.text
        instance_id = started.json()["instance_id"]
        in_app(client, app.plugins.get(WorkflowPlugin).engine.wait_for, UUID(instance_id), 5)
        waiting = (await client.get(f"/orders/instances/{instance_id}")).json()
        assert (waiting["status"], waiting["current_step"]) == ("waiting", "manager_approval")
        approved = await client.post(f"/orders/instances/{instance_id}/approve", json={"approved": True})
        assert approved.status_code == 201, approved.text
        in_app(client, app.plugins.get(WorkflowPlugin).engine.wait_for, UUID(instance_id), 5)
        done = (await client.get(f"/orders/instances/{instance_id}")).json()
    assert done["status"] == "completed" and done["error"] is None
    assert done["data"] == {
        "order_id": 7,
        "items": ["book"],
        "validation_passed": True,
        "approved": True,
        "tracking_number": "TRACK-7",
    }
