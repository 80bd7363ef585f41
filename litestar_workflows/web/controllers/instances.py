"""``/instances``: start, list, inspect, cancel and retry instances; follow one as it runs."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.service.pagination import OffsetPagination
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.types import TaskStatus, WorkflowStatus
from litestar_workflows.web import operations
from litestar_workflows.web.access import ACCESS_RAISES, BODY_RAISES, api_call, visible_instance
from litestar_workflows.web.api import INSTANCE_DETAIL_ROUTE, WorkflowApi
from litestar_workflows.web.errors import ConflictException
from litestar_workflows.web.events import instance_event_stream
from litestar_workflows.web.idempotency import IdempotencyKeyReusedException
from litestar_workflows.web.identity import Identity
from litestar_workflows.web.params import DateTimeQuery, Limit, Offset, StrictJSONBody, TextQuery, parse_datetime
from litestar_workflows.web.schemas import (
    CancelInstance,
    InstanceDetail,
    InstanceEventMessage,
    InstanceSummary,
    StartInstance,
    instance_detail,
    instance_summary,
)

__all__ = ("InstancesController",)

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retrying a start with the same key returns the instance the first request started "
        "(keys are per caller; a key reused with another body is a 422).",
    ),
]


async def _detail(
    api: WorkflowApi,
    identity: Identity,
    instance: WorkflowInstanceData,
    tasks: list[HumanTaskData] | None = None,
    children: list[WorkflowInstanceData] | None = None,
) -> InstanceDetail:
    """The instance's detail as ``identity`` may see it.

    ``tasks``: its tasks when known (all of them just read, or those its start's commit opened);
    else its open ones are read now. ``children``: its children when known (those its start's
    commit started); else they are read now.
    """
    if tasks is None:
        open_tasks = await api.persistence.list_tasks(instance_id=instance.id, status=TaskStatus.OPEN)
    else:
        open_tasks = [task for task in tasks if task.status is TaskStatus.OPEN]
    tracebacks = api.policy.may_view_tracebacks(identity, instance)
    if children is None:
        children = await api.persistence.list_instances(parent_id=instance.id)
    return instance_detail(instance, open_tasks, api.now(), tracebacks=tracebacks, children=children)


class InstancesController(Controller):
    """Workflow instances."""

    path = "/instances"

    @post(
        "/",
        name="workflows:instances:start",
        operation_id="WorkflowsStartInstance",
        summary="Start an instance",
        description="Commits the new instance before answering (201); its machine steps then run in the "
        "background. With an `Idempotency-Key` header, a retried request returns the instance of the first "
        "one with status 200 and the header `Idempotency-Replayed: true`, even from another process or after "
        "a restart (the key determines the instance id, so the database admits one instance per key and "
        "caller). The same key with a different workflow, version or data is a 422 (for anonymous callers, "
        "another request with the same key starts another instance). The caller is recorded as `started_by`; "
        "a workflow with `start_groups` may only be started by members of one of them (else 403).",
        status_code=HTTP_201_CREATED,
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=InstanceDetail,
                description="A repeated request with the same `Idempotency-Key`: the instance the first one "
                "started (with the header `Idempotency-Replayed: true`).",
            )
        },
        raises=[
            NotFoundException,
            ValidationException,
            IdempotencyKeyReusedException,
            RequestEntityTooLarge,
            *ACCESS_RAISES,
            *BODY_RAISES,
        ],
    )
    async def start_instance(
        self,
        request: Request[Any, Any, Any],
        data: StrictJSONBody[StartInstance],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[InstanceDetail]:
        """Start an instance."""
        workflow_api, workflow_identity = await api_call(request)
        started, replayed = await operations.start_instance(
            workflow_api,
            workflow_identity,
            data.workflow,
            data.data,
            version=data.version,
            idempotency_key=idempotency_key,
        )
        instance = started.instance
        # The start as its commit left it, with the tasks and children that commit made: nothing read back
        # (a replay: the instance as just read, its tasks and children read now).
        if replayed:
            detail = await _detail(workflow_api, workflow_identity, instance)
        else:
            detail = await _detail(workflow_api, workflow_identity, instance, started.opened_tasks, started.children)
        headers = {"Location": workflow_api.instance_path(request.app, instance.id)}
        if replayed:
            headers["Idempotency-Replayed"] = "true"
        return Response(detail, status_code=HTTP_200_OK if replayed else HTTP_201_CREATED, headers=headers)

    @get(
        "/",
        name="workflows:instances:list",
        operation_id="WorkflowsListInstances",
        summary="List instances",
        description="Newest first; only the instances the caller may see (started by them, with a task they "
        "may act on, or all for admins), and `total` counts only those. `mine=true` keeps the ones the caller "
        'started ("my requests"); `started_by` those started by one user. Naive datetimes are read as UTC.',
        raises=ACCESS_RAISES,
    )
    async def list_instances(
        self,
        request: Request[Any, Any, Any],
        workflow: TextQuery = None,
        status: FromQuery[WorkflowStatus | None] = None,
        started_after: DateTimeQuery = None,
        started_before: DateTimeQuery = None,
        started_by: TextQuery = None,
        mine: FromQuery[bool] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> OffsetPagination[InstanceSummary]:
        """List instances."""
        workflow_api, workflow_identity = await api_call(request)
        filters = operations.InstanceFilters(
            workflow=workflow,
            status=status,
            # bad values are a 400 whatever else was asked
            started_after=parse_datetime("started_after", started_after),
            started_before=parse_datetime("started_before", started_before),
            started_by=started_by,
            mine=mine,
            limit=limit,
            offset=offset,
        )
        items, total = await operations.list_instances(workflow_api, workflow_identity, filters)
        return OffsetPagination(
            items=[instance_summary(item) for item in items], limit=limit, offset=offset, total=total
        )

    @get(
        "/{instance_id:uuid}",
        name=INSTANCE_DETAIL_ROUTE,
        operation_id="WorkflowsGetInstance",
        summary="Get an instance",
        description="Status, active steps, context data, the full step history and the open tasks. "
        "Only for callers who may see the instance (else 403). The history's tracebacks are shown to the "
        "callers the policy allows (by default admins; null for everyone else).",
        raises=[NotFoundException, *ACCESS_RAISES],
    )
    async def get_instance(
        self,
        request: Request[Any, Any, Any],
        instance_id: FromPath[UUID],
    ) -> InstanceDetail:
        """Get an instance."""
        workflow_api, workflow_identity = await api_call(request)
        instance, tasks = await visible_instance(workflow_api, workflow_identity, instance_id)
        return await _detail(workflow_api, workflow_identity, instance, tasks)

    @post(
        "/{instance_id:uuid}/cancel",
        name="workflows:instances:cancel",
        operation_id="WorkflowsCancelInstance",
        summary="Cancel an instance",
        description="Stops running steps and cancels open tasks. A failed instance may be cancelled too. "
        "Allowed to the instance's starter and to admins.",
        status_code=HTTP_200_OK,
        raises=[NotFoundException, ConflictException, RequestEntityTooLarge, *ACCESS_RAISES, *BODY_RAISES],
    )
    async def cancel_instance(
        self,
        request: Request[Any, Any, Any],
        instance_id: FromPath[UUID],
        data: StrictJSONBody[CancelInstance],
    ) -> InstanceDetail:
        """Cancel an instance."""
        workflow_api, workflow_identity = await api_call(request)
        instance = await operations.cancel_instance(workflow_api, workflow_identity, instance_id, data.reason)
        return await _detail(workflow_api, workflow_identity, instance)

    @post(
        "/{instance_id:uuid}/retry",
        name="workflows:instances:retry",
        operation_id="WorkflowsRetryInstance",
        summary="Retry a failed instance",
        description="Resumes a failed instance from the step(s) where it stopped. Allowed to admins (and to "
        "the instance's starter where the policy lets starters retry).",
        status_code=HTTP_200_OK,
        raises=[NotFoundException, ConflictException, *ACCESS_RAISES, *BODY_RAISES],
    )
    async def retry_instance(
        self,
        request: Request[Any, Any, Any],
        instance_id: FromPath[UUID],
    ) -> InstanceDetail:
        """Retry a failed instance."""
        workflow_api, workflow_identity = await api_call(request)
        instance = await operations.retry_instance(workflow_api, workflow_identity, instance_id)
        return await _detail(workflow_api, workflow_identity, instance)

    @get(
        "/{instance_id:uuid}/events",
        name="workflows:instances:events",
        operation_id="WorkflowsInstanceEvents",
        summary="Follow an instance (server-sent events)",
        description="First an `instance.snapshot` event, then every event the engine commits for the instance "
        "(`step.succeeded`, `task.created`, ...). The stream ends after `workflow.completed`, "
        "`workflow.failed` or `workflow.canceled`. Events come from the process serving the request. "
        "Only for callers who may see the instance (else 403, before the stream starts).",
        raises=[NotFoundException, *ACCESS_RAISES],
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=InstanceEventMessage,
                media_type="text/event-stream",
                description="Server-sent events; the `data` of each is an `InstanceEvent` as JSON",
                generate_examples=False,
            )
        },
    )
    async def instance_events(
        self,
        request: Request[Any, Any, Any],
        instance_id: FromPath[UUID],
    ) -> ServerSentEvent:
        """Follow an instance (server-sent events)."""
        workflow_api, workflow_identity = await api_call(request)
        await visible_instance(workflow_api, workflow_identity, instance_id)  # 404 or 403 before the stream starts
        return ServerSentEvent(
            instance_event_stream(
                workflow_api.engine,
                workflow_api.event_bus,
                instance_id,
                workflow_api.config.sse_keepalive,
                workflow_api.streams_end,
            )
        )
