"""``/tasks``: the human-task inbox, and claiming, releasing, completing and reassigning tasks.

Every action is checked against the caller's identity (never a user id from the body): a task
can be claimed or completed by its assignee, a member of its candidate groups, or the admin role
(by any identified user when it has neither). A task claimed by someone else is theirs until
they release it (or an admin takes it over).

Claim, release and completion are checked by the persistence in the transaction that changes
the task, against the task as stored (``core.task_checks.TaskActor``): of several users claiming
a task at once exactly one wins and the others get a 409 naming the holder, and a completion
racing a reassignment, a claim or another completion either wins or is refused; it never
completes a task its caller may no longer act on. A caller who may not act on a task learns
nothing about it (a 403 without its state, its data or who claimed it).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.service.pagination import OffsetPagination
from litestar import Controller, Request, get, post
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from litestar_workflows.core.models import HumanTaskData
from litestar_workflows.core.types import TaskStatus
from litestar_workflows.web import operations
from litestar_workflows.web.access import BODY_RAISES, api_call
from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.errors import ConflictException
from litestar_workflows.web.params import Limit, Offset, StrictJSONBody, TextQuery
from litestar_workflows.web.schemas import ReassignTask, TaskDetail, TaskSummary, task_detail, task_summary

__all__ = ("TasksController",)

_RAISES = [NotAuthorizedException, PermissionDeniedException, NotFoundException, ConflictException]


def _detail(request: Request[Any, Any, Any], api: WorkflowApi, task: HumanTaskData) -> TaskDetail:
    return task_detail(task, api.now(), api.instance_path(request.app, task.instance_id))


class TasksController(Controller):
    """Human tasks."""

    path = "/tasks"

    @get(
        "/",
        name="workflows:tasks:list",
        operation_id="WorkflowsListTasks",
        summary="List tasks",
        description="Oldest first; only tasks the caller may act on, unless the caller is an admin. "
        "`mine=true` keeps the tasks assigned to the caller or claimed by them.",
        raises=[NotAuthorizedException],
    )
    async def list_tasks(
        self,
        request: Request[Any, Any, Any],
        status: FromQuery[TaskStatus | None] = None,
        assignee: TextQuery = None,
        candidate_group: TextQuery = None,
        workflow: TextQuery = None,
        instance_id: FromQuery[UUID | None] = None,
        mine: FromQuery[bool] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> OffsetPagination[TaskSummary]:
        """List tasks."""
        workflow_api, workflow_identity = await api_call(request)
        filters = operations.TaskFilters(
            status=status,
            assignee=assignee,
            candidate_group=candidate_group,
            workflow=workflow,
            instance_id=instance_id,
            mine=mine,
            limit=limit,
            offset=offset,
        )
        items, total = await operations.list_tasks(workflow_api, workflow_identity, filters)
        now = workflow_api.now()
        return OffsetPagination(
            items=[task_summary(task, now) for task in items], limit=limit, offset=offset, total=total
        )

    @get(
        "/{task_id:uuid}",
        name="workflows:tasks:detail",
        operation_id="WorkflowsGetTask",
        summary="Get a task",
        description="The task with its form schema, due time, outcome and a link to its instance.",
        raises=_RAISES[:3],
    )
    async def get_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[UUID],
    ) -> TaskDetail:
        """Get a task."""
        workflow_api, workflow_identity = await api_call(request)
        return _detail(request, workflow_api, await operations.task_for(workflow_api, workflow_identity, task_id))

    @post(
        "/{task_id:uuid}/claim",
        name="workflows:tasks:claim",
        operation_id="WorkflowsClaimTask",
        summary="Claim a task",
        description="Marks the caller as working on the task; others may not complete it until it is released. "
        "Claiming again is a no-op; a task claimed by someone else is a 409 naming them in `extra.claimed_by` "
        "(an admin takes the claim over instead).",
        status_code=HTTP_200_OK,
        raises=[*_RAISES, *BODY_RAISES],
    )
    async def claim_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[UUID],
    ) -> TaskDetail:
        """Claim a task."""
        workflow_api, workflow_identity = await api_call(request)
        return _detail(request, workflow_api, await operations.claim_task(workflow_api, workflow_identity, task_id))

    @post(
        "/{task_id:uuid}/release",
        name="workflows:tasks:release",
        operation_id="WorkflowsReleaseTask",
        summary="Release a claimed task",
        description="Gives a claimed task back to everyone who may act on it (its claimer or an admin). "
        "Releasing a task nobody claimed is a no-op; a caller who may not act on the task gets a 403.",
        status_code=HTTP_200_OK,
        raises=[*_RAISES, *BODY_RAISES],
    )
    async def release_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[UUID],
    ) -> TaskDetail:
        """Release a claimed task."""
        workflow_api, workflow_identity = await api_call(request)
        return _detail(request, workflow_api, await operations.release_task(workflow_api, workflow_identity, task_id))

    @post(
        "/{task_id:uuid}/complete",
        name="workflows:tasks:complete",
        operation_id="WorkflowsCompleteTask",
        summary="Complete a task",
        description="The body is the form data (a JSON object), validated against the task's form schema; "
        "a 400 lists every failing field. The completing user is the caller, who must be allowed to act on "
        "the task and hold its claim or find it free (a 409 naming the holder otherwise, unless the caller "
        "is an admin); the completed task is recorded as completed and claimed by the caller.",
        status_code=HTTP_200_OK,
        raises=[*_RAISES, RequestEntityTooLarge, *BODY_RAISES],
    )
    async def complete_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[UUID],
        data: JSONBody[dict[str, Any]],
    ) -> TaskDetail:
        """Complete a task."""
        workflow_api, workflow_identity = await api_call(request)
        task = await operations.complete_task(workflow_api, workflow_identity, task_id, data)
        return _detail(request, workflow_api, task)

    @post(
        "/{task_id:uuid}/reassign",
        name="workflows:tasks:reassign",
        operation_id="WorkflowsReassignTask",
        summary="Reassign a task",
        description="Hands the task to another user (null: back to its candidate groups) and drops any claim. "
        "Allowed to admins and to the current assignee (checked against the task as stored when it changes: "
        "an assignee whose task an admin handed to someone else meanwhile gets a 403, one whose task an admin "
        "holds a 409 naming the admin).",
        status_code=HTTP_200_OK,
        raises=[*_RAISES, RequestEntityTooLarge, *BODY_RAISES],
    )
    async def reassign_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[UUID],
        data: StrictJSONBody[ReassignTask],
    ) -> TaskDetail:
        """Reassign a task."""
        workflow_api, workflow_identity = await api_call(request)
        task = await operations.reassign_task(workflow_api, workflow_identity, task_id, data.assignee)
        return _detail(request, workflow_api, task)
