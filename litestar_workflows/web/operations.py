"""What the REST API and the browser UI do, once: each function checks the caller against the policy and acts.

The REST controllers and the UI's pages are thin layers over these functions, so a page refuses
exactly what the matching endpoint refuses, with the same error (``WorkflowsError`` subclasses,
turned into HTTP statuses by the one table in ``web.errors``). Nothing here builds a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from litestar.exceptions import NotFoundException, ValidationException

from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import (
    NotAuthenticatedError,
    TaskAlreadyCompletedError,
    TaskClaimedError,
    TaskNotFoundError,
    UnauthorizedTaskError,
)
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.task_checks import TaskActor
from litestar_workflows.core.types import StepStatus, TaskStatus, WorkflowStatus
from litestar_workflows.engine.completion import WorkflowStart
from litestar_workflows.engine.queries import UNSET, InstanceQuery, TaskQuery, _Unset
from litestar_workflows.policy import caller_name, require
from litestar_workflows.web.access import visible_instance
from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.idempotency import start_idempotently
from litestar_workflows.web.identity import Identity, can_act_on, is_admin

__all__ = (
    "InstanceFilters",
    "TaskFilters",
    "cancel_instance",
    "claim_task",
    "complete_task",
    "instance_diagram",
    "list_instances",
    "list_tasks",
    "reassign_task",
    "release_task",
    "require_start",
    "require_view_definitions",
    "retry_instance",
    "start_instance",
    "startable_definitions",
    "task_for",
    "task_user",
)


def task_user(identity: Identity) -> str:
    """The caller's user id; a 401 for anonymous callers, who may not act on tasks."""
    if identity.user_id is None:
        raise NotAuthenticatedError("tasks need an authenticated user")
    return identity.user_id


def _actor(api: WorkflowApi, identity: Identity) -> TaskActor:
    """The caller as the persistence checks them against a task, in the transaction changing it."""
    return TaskActor(identity, api.admin_role)


# --- definitions --------------------------------------------------------------------------------


def require_view_definitions(api: WorkflowApi, identity: Identity) -> None:
    """Refuse a caller the policy does not let read workflow definitions."""
    allowed = api.policy.may_view_definitions(identity)
    require(allowed, identity, f"{caller_name(identity)} may not view workflow definitions")


def startable_definitions(api: WorkflowApi, identity: Identity) -> list[WorkflowDefinition]:
    """The latest version of every active workflow the caller may start."""
    require_view_definitions(api, identity)
    return [
        definition
        for definition in api.registry.list_definitions(active_only=True)
        if api.policy.may_start(identity, definition)
    ]


async def instance_diagram(
    api: WorkflowApi, identity: Identity, name: str, version: str | None, instance_id: UUID | None
) -> str:
    """The Mermaid flowchart of a workflow; with ``instance_id``, that instance's steps highlighted."""
    require_view_definitions(api, identity)
    registry = api.registry
    if instance_id is None:
        return registry.get_definition(name, version).to_mermaid()
    instance, _ = await visible_instance(api, identity, instance_id)
    if instance.workflow_name != name:
        registry.get_definition(name)  # an unknown workflow is reported as such
        raise NotFoundException(detail=f"instance {instance_id} is not an instance of workflow {name!r}")
    if version is not None and version != instance.workflow_version:
        raise ValidationException(
            detail=f"instance {instance_id} runs version {instance.workflow_version!r}, not {version!r}"
        )
    last: dict[str, StepStatus] = {}
    for execution in instance.context.step_history:
        last[execution.step_name] = execution.status
    definition = registry.get_definition(name, instance.workflow_version)
    return definition.to_mermaid_with_state(
        current_step=[] if instance.status.is_finished else instance.active_steps,
        completed_steps=[step for step, status in last.items() if status is StepStatus.SUCCEEDED],
        failed_steps=[step for step, status in last.items() if status is StepStatus.FAILED],
    )


# --- instances ----------------------------------------------------------------------------------


def require_start(api: WorkflowApi, identity: Identity, definition: WorkflowDefinition) -> None:
    """Refuse a caller the policy does not let start ``definition`` (naming the groups that may)."""
    message = f"{caller_name(identity)} may not start workflow {definition.name!r}"
    if definition.start_groups:
        message += f": it needs membership in one of the groups {', '.join(sorted(definition.start_groups))}"
    require(api.policy.may_start(identity, definition), identity, message)


async def start_instance(
    api: WorkflowApi,
    identity: Identity,
    workflow: str,
    data: Mapping[str, Any],
    *,
    version: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[WorkflowStart, bool]:
    """Start ``workflow`` for the caller (who is recorded as ``started_by``); returns (start, replayed).

    A replay's start holds no tasks (see ``start_idempotently``).
    """
    require_start(api, identity, api.registry.get_definition(workflow, version))
    initial = dict(data)
    started_by_key = api.config.started_by_key
    # Set by the server, so added after the data was checked against the workflow's input type.
    trusted = {} if started_by_key is None else {started_by_key: identity.user_id}
    if idempotency_key is None:
        started = await api.engine.start_workflow_detailed(
            workflow, initial, version=version, trusted_data=trusted, started_by=identity.user_id
        )
        return started, False
    return await start_idempotently(
        api.engine,
        caller=identity.user_id,
        key=idempotency_key,
        workflow=workflow,
        version=version,
        request_data=data,
        initial_data=initial,
        trusted_data=trusted,
    )


@dataclass(frozen=True, slots=True)
class InstanceFilters:
    """What a listing of instances asks for (besides what the caller may see)."""

    workflow: str | None = None
    status: WorkflowStatus | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    started_by: str | None = None
    mine: bool = False
    """Only the instances the caller started ("my requests")."""
    limit: int = 50
    offset: int = 0


async def list_instances(
    api: WorkflowApi, identity: Identity, filters: InstanceFilters
) -> tuple[list[WorkflowInstanceData], int]:
    """One page of the instances the caller may see (newest first) and how many match in all."""
    user = identity.user_id
    starter: str | _Unset | None = UNSET if filters.started_by is None else filters.started_by
    if filters.mine:
        if filters.started_by not in {None, user}:
            return [], 0
        starter = user  # an anonymous caller's: the instances started without a starter
    query = InstanceQuery(
        workflow_name=filters.workflow,
        status=filters.status,
        started_after=filters.started_after,
        started_before=filters.started_before,
        started_by=starter,
        scope=api.policy.instance_scope(identity),
        limit=filters.limit,
        offset=filters.offset,
    )
    return await api.persistence.query_instances(query)


async def cancel_instance(api: WorkflowApi, identity: Identity, instance_id: UUID, reason: str) -> WorkflowInstanceData:
    """Cancel an instance the caller may see and cancel."""
    instance, _ = await visible_instance(api, identity, instance_id)
    require(
        api.policy.may_cancel(identity, instance),
        identity,
        f"{caller_name(identity)} may not cancel instance {instance_id}",
    )
    return await api.engine.cancel_workflow(instance_id, reason)


async def retry_instance(api: WorkflowApi, identity: Identity, instance_id: UUID) -> WorkflowInstanceData:
    """Retry a failed instance the caller may see and retry."""
    instance, _ = await visible_instance(api, identity, instance_id)
    require(
        api.policy.may_retry(identity, instance),
        identity,
        f"{caller_name(identity)} may not retry instance {instance_id}",
    )
    return await api.engine.retry_workflow(instance_id)


# --- tasks --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """What a listing of tasks asks for (besides what the caller may act on)."""

    status: TaskStatus | None = None
    assignee: str | None = None
    candidate_group: str | None = None
    workflow: str | None = None
    instance_id: UUID | None = None
    mine: bool = False
    """Only the tasks assigned to the caller or claimed by them."""
    limit: int = 50
    offset: int = 0


async def list_tasks(api: WorkflowApi, identity: Identity, filters: TaskFilters) -> tuple[list[HumanTaskData], int]:
    """One page of the tasks the caller may act on (all of them for admins; oldest first) and the total."""
    user = task_user(identity)
    admin = is_admin(identity, api.admin_role)
    if filters.mine and filters.assignee not in {None, user}:
        return [], 0
    query = TaskQuery(
        status=filters.status,
        assignee=filters.assignee,
        assigned_or_claimed_by=user if filters.mine else None,
        candidate_group=filters.candidate_group,
        workflow_name=filters.workflow,
        instance_id=filters.instance_id,
        visible_to=None if admin else (user, identity.groups),
        limit=filters.limit,
        offset=filters.offset,
    )
    return await api.persistence.query_tasks(query)


async def task_for(api: WorkflowApi, identity: Identity, task_id: UUID) -> HumanTaskData:
    """A task the caller may act on (404 if none; 403 without its data if they may not)."""
    user = task_user(identity)
    task = await api.persistence.get_task(task_id)
    if task is None:
        raise TaskNotFoundError(f"task {task_id} not found")
    if not can_act_on(task, identity, api.admin_role):
        raise UnauthorizedTaskError(f"user {user!r} may not see task {task_id}")
    return task


async def claim_task(api: WorkflowApi, identity: Identity, task_id: UUID) -> HumanTaskData:
    """Claim a task for the caller, checked in the update (409 naming the holder if someone else has it)."""
    user = task_user(identity)
    return await api.persistence.update_open_task(task_id, claimed_by=user, actor=_actor(api, identity))


async def release_task(api: WorkflowApi, identity: Identity, task_id: UUID) -> HumanTaskData:
    """Give a task the caller claimed (or, for admins, any claimed task) back to everyone who may act on it."""
    user = task_user(identity)
    try:
        return await api.persistence.update_open_task(task_id, claimed_by=None, actor=_actor(api, identity))
    except TaskClaimedError as exc:  # the caller may act on the task, so may know who holds it
        raise UnauthorizedTaskError(f"task {task_id} is claimed by {exc.claimed_by!r}, not by {user!r}") from exc


async def complete_task(api: WorkflowApi, identity: Identity, task_id: UUID, data: dict[str, Any]) -> HumanTaskData:
    """Complete a task with form ``data`` as the caller, checked in the commit that closes it; the closed task."""
    task_user(identity)
    completion = await api.engine.complete_task_detailed(task_id, identity, data)
    return completion.task


async def reassign_task(api: WorkflowApi, identity: Identity, task_id: UUID, assignee: str | None) -> HumanTaskData:
    """Hand a task to ``assignee`` (None: back to its groups); allowed to its assignee and admins.

    The assignee's reassignment is checked again in the update, against the task as stored: if
    an admin handed the task to someone else meanwhile, or holds its claim, it is refused (403,
    409) instead of overwriting the admin's change.
    """
    user = task_user(identity)
    admin = is_admin(identity, api.admin_role)
    task = await api.persistence.get_task(task_id)
    if task is None:
        raise TaskNotFoundError(f"task {task_id} not found")
    if task.assignee != user and not admin:
        raise UnauthorizedTaskError(f"only the assignee or an admin may reassign task {task_id}")
    if task.status is not TaskStatus.OPEN:
        raise TaskAlreadyCompletedError(f"task {task.id} is already {task.status.value}")
    actor = None if admin else _actor(api, identity)
    return await api.persistence.update_open_task(task_id, assignee=assignee, claimed_by=None, actor=actor)
