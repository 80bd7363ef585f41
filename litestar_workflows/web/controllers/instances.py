"""``/instances``: start, list, inspect, cancel and retry instances; follow one as it runs."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.service.pagination import OffsetPagination
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from litestar_workflows.core.models import WorkflowInstanceData
from litestar_workflows.core.types import TaskStatus, WorkflowStatus
from litestar_workflows.engine.persistence import InstanceQuery
from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.errors import ConflictException
from litestar_workflows.web.events import instance_event_stream
from litestar_workflows.web.idempotency import IdempotencyKeyReusedException, start_idempotently
from litestar_workflows.web.identity import Identity
from litestar_workflows.web.params import DateTimeQuery, Limit, Offset, StrictJSONBody, parse_datetime
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


async def _detail(api: WorkflowApi, instance: WorkflowInstanceData) -> InstanceDetail:
    open_tasks = await api.persistence.list_tasks(instance_id=instance.id, status=TaskStatus.OPEN)
    return instance_detail(instance, open_tasks, api.now())


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
        "caller). The same key with a different workflow, version or data is a 422.",
        status_code=HTTP_201_CREATED,
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=InstanceDetail,
                description="A repeated request with the same `Idempotency-Key`: the instance the first one "
                "started (with the header `Idempotency-Replayed: true`).",
            )
        },
        raises=[NotFoundException, ValidationException, IdempotencyKeyReusedException, RequestEntityTooLarge],
    )
    async def start_instance(
        self,
        request: Request[Any, Any, Any],
        workflow_api: NamedDependency[WorkflowApi],
        workflow_identity: NamedDependency[Identity],
        data: StrictJSONBody[StartInstance],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[InstanceDetail]:
        """Start an instance."""
        engine = workflow_api.engine
        initial = dict(data.data)
        started_by_key = workflow_api.config.started_by_key
        if started_by_key is not None:
            initial[started_by_key] = workflow_identity.user_id
        replayed = False
        if idempotency_key is None:
            instance = await engine.start_workflow(data.workflow, initial, version=data.version)
        else:
            instance, replayed = await start_idempotently(
                engine,
                caller=workflow_identity.user_id,
                key=idempotency_key,
                workflow=data.workflow,
                version=data.version,
                request_data=data.data,
                initial_data=initial,
            )
        detail = await _detail(workflow_api, instance)  # the committed start (a replay: as just read)
        headers = {"Location": request.app.route_reverse("workflows:instances:detail", instance_id=instance.id)}
        if replayed:
            headers["Idempotency-Replayed"] = "true"
        return Response(detail, status_code=HTTP_200_OK if replayed else HTTP_201_CREATED, headers=headers)

    @get(
        "/",
        name="workflows:instances:list",
        operation_id="WorkflowsListInstances",
        summary="List instances",
        description="Newest first. Naive datetimes are read as UTC.",
    )
    async def list_instances(
        self,
        workflow_api: NamedDependency[WorkflowApi],
        workflow: FromQuery[str | None] = None,
        status: FromQuery[WorkflowStatus | None] = None,
        started_after: DateTimeQuery = None,
        started_before: DateTimeQuery = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> OffsetPagination[InstanceSummary]:
        """List instances."""
        query = InstanceQuery(
            workflow_name=workflow,
            status=status,
            started_after=parse_datetime("started_after", started_after),
            started_before=parse_datetime("started_before", started_before),
            limit=limit,
            offset=offset,
        )
        items, total = await workflow_api.persistence.query_instances(query)
        return OffsetPagination(
            items=[instance_summary(item) for item in items], limit=limit, offset=offset, total=total
        )

    @get(
        "/{instance_id:uuid}",
        name="workflows:instances:detail",
        operation_id="WorkflowsGetInstance",
        summary="Get an instance",
        description="Status, active steps, context data, the full step history and the open tasks.",
        raises=[NotFoundException],
    )
    async def get_instance(
        self, workflow_api: NamedDependency[WorkflowApi], instance_id: FromPath[UUID]
    ) -> InstanceDetail:
        """Get an instance."""
        return await _detail(workflow_api, await workflow_api.engine.get_instance(instance_id))

    @post(
        "/{instance_id:uuid}/cancel",
        name="workflows:instances:cancel",
        operation_id="WorkflowsCancelInstance",
        summary="Cancel an instance",
        description="Stops running steps and cancels open tasks. A failed instance may be cancelled too.",
        status_code=HTTP_200_OK,
        raises=[NotFoundException, ConflictException, RequestEntityTooLarge],
    )
    async def cancel_instance(
        self,
        workflow_api: NamedDependency[WorkflowApi],
        instance_id: FromPath[UUID],
        data: StrictJSONBody[CancelInstance],
    ) -> InstanceDetail:
        """Cancel an instance."""
        return await _detail(workflow_api, await workflow_api.engine.cancel_workflow(instance_id, data.reason))

    @post(
        "/{instance_id:uuid}/retry",
        name="workflows:instances:retry",
        operation_id="WorkflowsRetryInstance",
        summary="Retry a failed instance",
        description="Resumes a failed instance from the step(s) where it stopped.",
        status_code=HTTP_200_OK,
        raises=[NotFoundException, ConflictException],
    )
    async def retry_instance(
        self, workflow_api: NamedDependency[WorkflowApi], instance_id: FromPath[UUID]
    ) -> InstanceDetail:
        """Retry a failed instance."""
        return await _detail(workflow_api, await workflow_api.engine.retry_workflow(instance_id))

    @get(
        "/{instance_id:uuid}/events",
        name="workflows:instances:events",
        operation_id="WorkflowsInstanceEvents",
        summary="Follow an instance (server-sent events)",
        description="First an `instance.snapshot` event, then every event the engine commits for the instance "
        "(`step.succeeded`, `task.created`, ...). The stream ends after `workflow.completed`, "
        "`workflow.failed` or `workflow.canceled`. Events come from the process serving the request.",
        raises=[NotFoundException],
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
        self, workflow_api: NamedDependency[WorkflowApi], instance_id: FromPath[UUID]
    ) -> ServerSentEvent:
        """Follow an instance (server-sent events)."""
        await workflow_api.engine.get_instance(instance_id)  # a 404 before the stream starts
        return ServerSentEvent(
            instance_event_stream(
                workflow_api.engine,
                workflow_api.event_bus,
                instance_id,
                workflow_api.config.sse_keepalive,
                workflow_api.streams_end,
            )
        )
