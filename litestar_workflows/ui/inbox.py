"""The inbox (open tasks the caller may act on) and the task page, with claim, release and complete.

Every handler reads and acts through ``web.operations``, the functions behind the REST API, so a
page refuses what the API refuses; the pages only turn HTML forms into those calls and results
into HTML.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, ServerSentEvent
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST

from litestar_workflows.core.exceptions import AccessDeniedError, WorkflowValidationError
from litestar_workflows.core.models import HumanTaskData
from litestar_workflows.core.types import TaskStatus
from litestar_workflows.ui.forms import form_fields, read_form
from litestar_workflows.ui.rendering import Pages, is_htmx
from litestar_workflows.ui.streams import inbox_stream
from litestar_workflows.web import operations
from litestar_workflows.web.access import visible_instance
from litestar_workflows.web.identity import Identity
from litestar_workflows.web.params import Offset, TextQuery
from litestar_workflows.web.schemas import task_detail, task_summary

__all__ = ("NOTICES", "InboxPages", "posted_fields")

NOTICES = {
    "completed": "Task completed. Thank you.",
    "claimed": "You claimed the task.",
    "released": "You released the task.",
    "started": "Started.",
    "canceled": "The instance was cancelled.",
    "retried": "The instance is running again.",
}
"""The messages a page shows after an action sent the browser to it (``?notice=...``)."""


async def posted_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The text fields of a posted HTML form (files and repeated names beyond the first are ignored)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _flag(value: str | None) -> bool:
    return value == "true"


def _offset(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


async def _inbox(pages: Pages, identity: Identity, workflow: str | None, mine: bool, offset: int) -> dict[str, Any]:
    """What the inbox and its list show: one page of open tasks, the filters and the page links."""
    api = pages.api
    size = pages.config.page_size
    filters = operations.TaskFilters(
        status=TaskStatus.OPEN, workflow=workflow or None, mine=mine, limit=size, offset=offset
    )
    tasks, total = await operations.list_tasks(api, identity, filters)
    now = api.now()
    query = {"workflow": workflow, "mine": "true" if mine else None}
    return {
        **pages.page_links("/", query, offset, total),
        "tasks": [task_summary(task, now) for task in tasks],
        "total": total,
        "filters": {"workflow": workflow or "", "mine": mine, "offset": offset},
        "workflows": sorted({definition.name for definition in api.registry.list_definitions(active_only=True)}),
    }


async def _task_page(
    request: Request[Any, Any, Any],
    pages: Pages,
    identity: Identity,
    task: HumanTaskData,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response[str]:
    api = pages.api
    try:
        instance, _ = await visible_instance(api, identity, task.instance_id)
        instance_data: dict[str, Any] | None = dict(instance.data)
    except AccessDeniedError:  # a policy may let people act on tasks of instances they may not see
        instance_data = None
    fields = form_fields(task.form_schema, values, errors) if task.form_schema is not None else []
    context = {
        "task": task_detail(task, api.now(), pages.url(f"/instances/{task.instance_id}")),
        "instance_data": instance_data,
        "fields": fields,
        "field_names": {field.name for field in fields},
        "labels": {field.name: field.label for field in fields},
        "errors": errors or {},
    }
    status = HTTP_400_BAD_REQUEST if errors else 200
    return pages.render(request, "task.html", identity, context, status_code=status)


class InboxPages(Controller):
    """The inbox and task pages."""

    @get("/", name="workflows:ui:inbox")
    async def inbox(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        workflow: TextQuery = None,
        mine: FromQuery[bool] = False,
        offset: Offset = 0,
        notice: TextQuery = None,
    ) -> Response[str]:
        """My open tasks and those of my groups."""
        context = await _inbox(ui_pages, workflow_identity, workflow, mine, offset)
        context["notice"] = NOTICES.get(notice or "")
        return ui_pages.render(request, "inbox.html", workflow_identity, context)

    @get("/inbox/list", name="workflows:ui:inbox-list")
    async def inbox_list(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        workflow: TextQuery = None,
        mine: FromQuery[bool] = False,
        offset: Offset = 0,
    ) -> Response[str]:
        """The inbox's list alone (what the page reloads when tasks open or close)."""
        context = await _inbox(ui_pages, workflow_identity, workflow, mine, offset)
        return ui_pages.render(request, "_inbox_list.html", workflow_identity, context)

    @get("/inbox/events", name="workflows:ui:inbox-events")
    async def inbox_events(
        self, ui_pages: NamedDependency[Pages], workflow_identity: NamedDependency[Identity]
    ) -> ServerSentEvent:
        """A server-sent ``inbox`` event whenever a task the caller may act on opens or closes."""
        operations.task_user(workflow_identity)  # anonymous callers have no inbox: 401 before the stream
        stream = inbox_stream(ui_pages.api, workflow_identity, lifetime=ui_pages.config.stream_seconds)
        return ServerSentEvent(stream, headers=ui_pages.headers())

    @get("/tasks/{task_id:uuid}", name="workflows:ui:task")
    async def task(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        task_id: FromPath[UUID],
    ) -> Response[str]:
        """One task: what it is about, the request's data, and its form."""
        task = await operations.task_for(ui_pages.api, workflow_identity, task_id)
        return await _task_page(request, ui_pages, workflow_identity, task)

    @post("/tasks/{task_id:uuid}/claim", name="workflows:ui:claim", status_code=HTTP_303_SEE_OTHER)
    async def claim(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        task_id: FromPath[UUID],
    ) -> Response[Any]:
        """Claim a task (from the inbox: the list comes back; from the task page: back to it)."""
        await operations.claim_task(ui_pages.api, workflow_identity, task_id)
        return await self._after_holder_change(request, ui_pages, workflow_identity, task_id, "claimed")

    @post("/tasks/{task_id:uuid}/release", name="workflows:ui:release", status_code=HTTP_303_SEE_OTHER)
    async def release(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        task_id: FromPath[UUID],
    ) -> Response[Any]:
        """Release a claimed task."""
        await operations.release_task(ui_pages.api, workflow_identity, task_id)
        return await self._after_holder_change(request, ui_pages, workflow_identity, task_id, "released")

    @staticmethod
    async def _after_holder_change(
        request: Request[Any, Any, Any], pages: Pages, identity: Identity, task_id: UUID, notice: str
    ) -> Response[Any]:
        form = await posted_fields(request)
        if form.get("return_to") == "task":
            return Redirect(pages.url(f"/tasks/{task_id}"), status_code=HTTP_303_SEE_OTHER)
        workflow, mine, offset = form.get("workflow") or None, _flag(form.get("mine")), _offset(form.get("offset"))
        if is_htmx(request):
            context = await _inbox(pages, identity, workflow, mine, offset)
            return pages.render(request, "_inbox_list.html", identity, context)
        target = pages.url("/", workflow=workflow, mine="true" if mine else None, offset=offset or None, notice=notice)
        return Redirect(target, status_code=HTTP_303_SEE_OTHER)

    @post("/tasks/{task_id:uuid}/complete", name="workflows:ui:complete", status_code=HTTP_303_SEE_OTHER)
    async def complete(
        self,
        request: Request[Any, Any, Any],
        ui_pages: NamedDependency[Pages],
        workflow_identity: NamedDependency[Identity],
        task_id: FromPath[UUID],
    ) -> Response[Any]:
        """Complete a task with the posted form; invalid fields come back marked (400).

        The completion is the API's (the same checks in the same commit, the same refusals); the
        task is read first only for its form, and shown again only to those who may act on it.
        """
        api = ui_pages.api
        stored = await api.persistence.get_task(task_id)
        schema = stored.form_schema if stored is not None else None
        posted = await posted_fields(request)
        data, errors = read_form(schema, posted) if schema is not None else ({}, {})
        if not errors:
            try:
                await operations.complete_task(api, workflow_identity, task_id, data)
            except WorkflowValidationError as exc:
                errors = dict(exc.fields) or {"(form)": "; ".join(exc.errors) or str(exc)}
            else:
                return Redirect(ui_pages.url("/", notice="completed"), status_code=HTTP_303_SEE_OTHER)
        task = await operations.task_for(api, workflow_identity, task_id)  # refuses before showing anything
        return await _task_page(request, ui_pages, workflow_identity, task, values=posted, errors=errors)
