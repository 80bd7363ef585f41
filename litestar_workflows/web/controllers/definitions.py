"""``/definitions``: the registered workflows, their structure and their Mermaid diagram."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, MediaType, Request, Response, get
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_200_OK

from litestar_workflows.web.access import ACCESS_RAISES, api_call
from litestar_workflows.web.operations import instance_diagram
from litestar_workflows.web.operations import require_view_definitions as _require_view
from litestar_workflows.web.schemas import DefinitionDetail, DefinitionSummary, definition_detail, definition_summary

__all__ = ("DefinitionsController",)


class DefinitionsController(Controller):
    """Read-only views of the workflow registry."""

    path = "/definitions"

    @get(
        "/",
        name="workflows:definitions:list",
        operation_id="WorkflowsListDefinitions",
        summary="List workflows",
        description="Every registered workflow with its versions; description and step count are the latest's.",
        raises=ACCESS_RAISES,
    )
    async def list_definitions(self, request: Request[Any, Any, Any]) -> list[DefinitionSummary]:
        """List workflows."""
        workflow_api, workflow_identity = await api_call(request)
        _require_view(workflow_api, workflow_identity)
        registry = workflow_api.registry
        return [
            definition_summary(definition, registry.get_versions(definition.name))
            for definition in registry.list_definitions(active_only=True)
        ]

    @get(
        "/{name:str}",
        name="workflows:definitions:detail",
        operation_id="WorkflowsGetDefinition",
        summary="Get a workflow's structure",
        description="Steps with their types, edges, initial and terminal steps (the latest version by default).",
        raises=[NotFoundException, *ACCESS_RAISES],
    )
    async def get_definition(
        self,
        request: Request[Any, Any, Any],
        name: FromPath[str],
        version: FromQuery[str | None] = None,
    ) -> DefinitionDetail:
        """Get a workflow's structure."""
        workflow_api, workflow_identity = await api_call(request)
        _require_view(workflow_api, workflow_identity)
        registry = workflow_api.registry
        definition = registry.get_definition(name, version)
        return definition_detail(definition, registry.get_versions(name))

    @get(
        "/{name:str}/graph",
        name="workflows:definitions:graph",
        operation_id="WorkflowsGetDefinitionGraph",
        summary="Mermaid diagram of a workflow",
        description="A Mermaid flowchart. With `instance_id`, that instance's completed, failed and current "
        "steps are highlighted, on the version the instance runs (only for callers who may see the instance).",
        # Errors keep the handler's JSON media type; only the diagram itself is text.
        media_type=MediaType.JSON,
        raises=[NotFoundException, ValidationException, *ACCESS_RAISES],
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=str,
                media_type=MediaType.TEXT,
                description="The Mermaid flowchart",
                generate_examples=False,
            )
        },
    )
    async def get_graph(
        self,
        request: Request[Any, Any, Any],
        name: FromPath[str],
        version: FromQuery[str | None] = None,
        instance_id: FromQuery[UUID | None] = None,
    ) -> Response[str]:
        """Mermaid diagram of a workflow."""
        workflow_api, workflow_identity = await api_call(request)
        diagram = await instance_diagram(workflow_api, workflow_identity, name, version, instance_id)
        return Response(diagram, media_type=MediaType.TEXT)
