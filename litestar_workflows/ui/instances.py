"""The instance pages: the list (mine, or all the caller may see), starting a workflow, one instance with its graph.

As in ``ui.inbox``, every decision is taken by ``web.operations`` and the policy; these handlers
only decide what to show (the cancel and retry buttons appear when the policy would allow them).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST

from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import WorkflowsError, WorkflowValidationError
from litestar_workflows.core.models import WorkflowInstanceData
from litestar_workflows.core.types import StepStatus, TaskStatus, WorkflowStatus
from litestar_workflows.ui.config import RENDERER_CONTENT_SECURITY_POLICY
from litestar_workflows.ui.forms import form_fields, read_form
from litestar_workflows.ui.inbox import NOTICES, posted_fields
from litestar_workflows.ui.rendering import Pages
from litestar_workflows.web import operations
from litestar_workflows.web.access import visible_instance
from litestar_workflows.web.identity import Identity
from litestar_workflows.web.params import Offset, TextQuery
from litestar_workflows.web.schemas import instance_detail, instance_summary

__all__ = ("InstancePages",)

_CANCELLABLE = frozenset(set(WorkflowStatus) - {WorkflowStatus.COMPLETED, WorkflowStatus.CANCELED})
"""What the engine cancels: anything not completed or cancelled already (a failed instance too)."""


def _step_states(instance: WorkflowInstanceData) -> dict[str, list[str]]:
    """The steps done, current and failed (by their last run), as the graph highlights them."""
    last: dict[str, StepStatus] = {}
    for execution in instance.context.step_history:
        last[execution.step_name] = execution.status
    return {
        "completed": [step for step, status in last.items() if status is StepStatus.SUCCEEDED],
        "current": [] if instance.status.is_finished else list(instance.active_steps),
        "failed": [step for step, status in last.items() if status is StepStatus.FAILED],
    }


def _start_page(
    request: Request[Any, Any, Any],
    pages: Pages,
    identity: Identity,
    definition: WorkflowDefinition,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response[str]:
    fields = form_fields(definition.input_schema, values, errors)
    context = {
        "definition": definition,
        "fields": fields,
        "field_names": {field.name for field in fields},
        "labels": {field.name: field.label for field in fields},
        "errors": errors or {},
    }
    status = HTTP_400_BAD_REQUEST if errors else 200
    return pages.render(request, "start.html", identity, context, status_code=status)


def _startable(pages: Pages, identity: Identity, name: str) -> WorkflowDefinition:
    """The latest definition of ``name`` if the caller may start it (the start checks it again)."""
    operations.require_view_definitions(pages.api, identity)
    definition = pages.api.registry.get_definition(name)
    operations.require_start(pages.api, identity, definition)
    return definition


class InstancePages(Controller):
    """Instances: list, start, detail, cancel, retry."""

    @get("/instances", name="workflows:ui:instances")
    async def instances(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        show: TextQuery = None,
        workflow: TextQuery = None,
        status: FromQuery[WorkflowStatus | None] = None,
        offset: Offset = 0,
        notice: TextQuery = None,
    ) -> Response[str]:
        """The instances the caller started (or all they may see), and the workflows they may start."""
        api = ui_pages.api
        mine = show != "all"
        size = ui_pages.config.page_size
        filters = operations.InstanceFilters(
            workflow=workflow or None, status=status, mine=mine, limit=size, offset=offset
        )
        items, total = await operations.list_instances(api, workflow_identity, filters)
        query = {"show": None if mine else "all", "workflow": workflow, "status": status.value if status else None}
        context = {
            "instances": [instance_summary(item) for item in items],
            "total": total,
            "filters": {
                "mine": mine,
                "workflow": workflow or "",
                "status": status.value if status else "",
                "offset": offset,
            },
            "workflows": sorted({definition.name for definition in api.registry.list_definitions(active_only=True)}),
            "statuses": [member.value for member in WorkflowStatus],
            "startable": operations.startable_definitions(api, workflow_identity),
            "previous_url": ui_pages.url("/instances", **query, offset=max(offset - size, 0) or None)
            if offset
            else None,
            "next_url": ui_pages.url("/instances", **query, offset=offset + size) if offset + size < total else None,
            "notice": NOTICES.get(notice or ""),
        }
        return ui_pages.render(request, "instances.html", workflow_identity, context)

    @get("/start/{name:str}", name="workflows:ui:start-form")
    async def start_form(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        name: FromPath[str],
    ) -> Response[str]:
        """The start form of a workflow, derived from its start-input schema."""
        definition = _startable(ui_pages, workflow_identity, name)
        return _start_page(request, ui_pages, workflow_identity, definition)

    @post("/start/{name:str}", name="workflows:ui:start", status_code=HTTP_303_SEE_OTHER)
    async def start(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        name: FromPath[str],
    ) -> Response[Any]:
        """Start the workflow with the posted form; invalid fields come back marked (400), nothing started."""
        definition = _startable(ui_pages, workflow_identity, name)
        posted = await posted_fields(request)
        data, errors = read_form(definition.input_schema, posted)
        if not errors:
            try:
                started, _ = await operations.start_instance(
                    ui_pages.api, workflow_identity, name, data, version=definition.version
                )
            except WorkflowValidationError as exc:
                errors = dict(exc.fields) or {"(form)": "; ".join(exc.errors) or str(exc)}
            else:
                target = ui_pages.url(f"/instances/{started.instance.id}", notice="started")
                return Redirect(target, status_code=HTTP_303_SEE_OTHER)
        return _start_page(request, ui_pages, workflow_identity, definition, values=posted, errors=errors)

    @get("/instances/{instance_id:uuid}", name="workflows:ui:instance")
    async def instance(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        instance_id: FromPath[UUID],
        notice: TextQuery = None,
    ) -> Response[str]:
        """One instance: status, data, history, the graph, and the actions the policy allows."""
        api = ui_pages.api
        instance, tasks = await visible_instance(api, workflow_identity, instance_id)
        children = await api.persistence.list_instances(parent_id=instance_id)
        open_tasks = [task for task in tasks if task.status is TaskStatus.OPEN]
        detail = instance_detail(instance, open_tasks, api.now(), children=children)
        try:
            diagram: str | None = await operations.instance_diagram(
                api, workflow_identity, instance.workflow_name, None, instance_id
            )
        except WorkflowsError:  # its version is no longer registered: the page still shows the rest
            diagram = None
        policy = api.policy
        context = {
            "detail": detail,
            "diagram": diagram,
            "steps": _step_states(instance),
            "may_cancel": instance.status in _CANCELLABLE and policy.may_cancel(workflow_identity, instance),
            "may_retry": instance.status is WorkflowStatus.FAILED and policy.may_retry(workflow_identity, instance),
            "parent_id": detail.parent_id,
            "children": [child.id for child in detail.children],
            "notice": NOTICES.get(notice or ""),
        }
        return ui_pages.render(request, "instance.html", workflow_identity, context)

    @get("/graph-renderer", name="workflows:ui:graph-renderer")
    async def graph_renderer(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
    ) -> Response[str]:
        """The hidden frame in which Mermaid draws instance diagrams (see ``static/graph.js``)."""
        headers = {"Content-Security-Policy": RENDERER_CONTENT_SECURITY_POLICY}
        return ui_pages.render(request, "graph_renderer.html", workflow_identity, headers=headers)

    @post("/instances/{instance_id:uuid}/cancel", name="workflows:ui:cancel", status_code=HTTP_303_SEE_OTHER)
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        instance_id: FromPath[UUID],
    ) -> Redirect:
        """Cancel the instance with the posted reason."""
        reason = (await posted_fields(request)).get("reason", "").strip()
        if not reason:
            raise WorkflowValidationError(
                "give a reason for cancelling", ["reason: is required"], {"reason": "is required"}
            )
        await operations.cancel_instance(ui_pages.api, workflow_identity, instance_id, reason)
        return Redirect(ui_pages.url(f"/instances/{instance_id}", notice="canceled"), status_code=HTTP_303_SEE_OTHER)

    @post("/instances/{instance_id:uuid}/retry", name="workflows:ui:retry", status_code=HTTP_303_SEE_OTHER)
    async def retry(
        self,
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        instance_id: FromPath[UUID],
    ) -> Redirect:
        """Retry the failed instance."""
        await operations.retry_instance(ui_pages.api, workflow_identity, instance_id)
        return Redirect(ui_pages.url(f"/instances/{instance_id}", notice="retried"), status_code=HTTP_303_SEE_OTHER)
