"""Request and response bodies of the REST API, as msgspec Structs.

Inputs forbid unknown fields, so a typo is a 400 naming the field instead of being ignored.
Outputs are plain snapshots built from the engine's dataclasses by the ``from_*`` helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar.params import Parameter

from litestar_workflows.core.context import StepExecution
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.types import StepStatus, StepType, TaskStatus, WorkflowStatus
from litestar_workflows.core.values import MAX_NESTING
from litestar_workflows.web.params import NO_NUL

__all__ = (
    "CancelInstance",
    "ChildInstance",
    "DefinitionDetail",
    "DefinitionSummary",
    "EdgeInfo",
    "InstanceDetail",
    "InstanceEvent",
    "InstanceEventMessage",
    "InstanceSummary",
    "ReassignTask",
    "StartInstance",
    "StepInfo",
    "StepRecord",
    "TaskDetail",
    "TaskSummary",
    "definition_detail",
    "definition_summary",
    "instance_detail",
    "instance_summary",
    "step_record",
    "task_detail",
    "task_summary",
)

_DATA_RULES = (
    f"The instance's initial context data. No key or string may contain a NUL character (\\u0000), and "
    f"lists and objects nest at most {MAX_NESTING} levels in a value: a 400 names the place otherwise."
)
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]


# --- inputs -------------------------------------------------------------------------------------


class StartInstance(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Start an instance of a registered workflow."""

    workflow: Name
    """Name of the workflow."""
    version: Name | None = None
    """Version to start; the latest registered one when omitted."""
    data: Annotated[dict[str, Any], Parameter(description=_DATA_RULES)] = msgspec.field(default_factory=dict)
    """The instance's initial context data."""


class CancelInstance(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Cancel a running or waiting instance."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=NO_NUL)]
    """Why; recorded on the instance."""


class ReassignTask(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Hand a task to someone else (null: back to its candidate groups)."""

    assignee: Name | None
    """The new assignee's user id, or null to unassign."""


# --- outputs ------------------------------------------------------------------------------------


class StepInfo(msgspec.Struct, kw_only=True):
    """One step of a definition."""

    name: str
    type: StepType
    description: str
    is_join: bool
    title: str | None = None
    form_schema: dict[str, Any] | None = None
    candidate_groups: list[str] | None = None


class EdgeInfo(msgspec.Struct, kw_only=True):
    """One edge of a definition; ``condition`` is a readable label (None: always taken)."""

    source: str
    target: str
    condition: str | None


class DefinitionSummary(msgspec.Struct, kw_only=True):
    """A registered workflow: its latest version's description and every version."""

    name: str
    latest_version: str
    versions: list[str]
    description: str
    step_count: int


class DefinitionDetail(msgspec.Struct, kw_only=True):
    """The structure of one version of a workflow."""

    name: str
    version: str
    versions: list[str]
    description: str
    initial_step: str
    terminal_steps: list[str]
    steps: list[StepInfo]
    edges: list[EdgeInfo]
    start_groups: list[str]
    """Groups whose members may start the workflow (empty: any identified caller)."""
    input_schema: dict[str, Any] | None = None
    """JSON Schema of the start data when the workflow has an input type (null: any object)."""


class StepRecord(msgspec.Struct, kw_only=True):
    """One recorded run of a step (one per attempt)."""

    step: str
    status: StepStatus
    attempt: int
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None
    result: Any
    completed_by: str | None
    traceback: str | None = None
    """Where a failed attempt failed: the formatted traceback of what the step raised (null for
    callers the policy does not show tracebacks to: by default everyone but admins)."""


class TaskSummary(msgspec.Struct, kw_only=True):
    """A human task, as listed."""

    id: UUID
    instance_id: UUID
    workflow: str
    step: str
    title: str
    status: TaskStatus
    assignee: str | None
    candidate_groups: list[str]
    claimed_by: str | None
    created_at: datetime | None
    due_at: datetime | None
    overdue: bool


class TaskDetail(TaskSummary, kw_only=True):
    """A human task with its form and outcome."""

    description: str
    form_schema: dict[str, Any] | None
    completed_by: str | None
    completed_at: datetime | None
    data: dict[str, Any] | None
    instance_url: str


class InstanceSummary(msgspec.Struct, kw_only=True):
    """A workflow instance, as listed."""

    id: UUID
    workflow: str
    version: str
    status: WorkflowStatus
    current_step: str | None
    active_steps: list[str]
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None
    started_by: str | None
    """Who started the instance (null: anonymously, or by code that named nobody)."""


class ChildInstance(msgspec.Struct, kw_only=True):
    """A sub-workflow instance started by an instance's ``SubWorkflowStep``."""

    id: UUID
    workflow: str
    status: WorkflowStatus


class InstanceDetail(InstanceSummary, kw_only=True):
    """A workflow instance with its data, step history, open tasks, and the instances it is linked to."""

    data: dict[str, Any]
    cancel_reason: str | None
    history: list[StepRecord]
    open_tasks: list[TaskSummary]
    parent_id: UUID | None = None
    """The instance that started this one as a sub-workflow (null: a top-level instance)."""
    children: list[ChildInstance] = []
    """The sub-workflow instances this one started, oldest first (visible to whoever may see this one)."""


class InstanceEvent(msgspec.Struct, kw_only=True):
    """The ``data`` of one server-sent event about an instance."""

    type: str
    instance_id: UUID
    at: datetime
    payload: dict[str, Any]


_INSTANCE_EVENT_SCHEMA = msgspec.json.schema_components([InstanceEvent])[1]["InstanceEvent"]


class InstanceEventMessage(msgspec.Struct, kw_only=True):
    """One server-sent event of an instance's stream, as the OpenAPI schema documents the stream's items.

    Only used for the schema: the ``data`` field holds an :class:`InstanceEvent` encoded as JSON.
    """

    id: str
    event: str
    data: Annotated[
        str,
        Parameter(schema_extra={"contentMediaType": "application/json", "contentSchema": _INSTANCE_EVENT_SCHEMA}),
    ]


# --- conversions --------------------------------------------------------------------------------


def definition_summary(definition: WorkflowDefinition, versions: list[str]) -> DefinitionSummary:
    """Summary of the latest ``definition`` of a workflow with all its ``versions``."""
    return DefinitionSummary(
        name=definition.name,
        latest_version=definition.version,
        versions=versions,
        description=definition.description,
        step_count=len(definition.steps),
    )


def definition_detail(definition: WorkflowDefinition, versions: list[str]) -> DefinitionDetail:
    """Steps, edges, initial and terminal steps of ``definition``."""
    graph = definition.graph
    steps: list[StepInfo] = []
    for name, step in definition.steps.items():
        human = step.step_type is StepType.HUMAN
        steps.append(
            StepInfo(
                name=name,
                type=step.step_type,
                description=step.description,
                is_join=graph.is_join(name),
                title=getattr(step, "title", None) if human else None,
                form_schema=getattr(step, "form_schema", None) if human else None,
                candidate_groups=list(getattr(step, "candidate_groups", ())) if human else None,
            )
        )
    return DefinitionDetail(
        name=definition.name,
        version=definition.version,
        versions=versions,
        description=definition.description,
        initial_step=definition.initial_step,
        terminal_steps=sorted(definition.terminal_steps),
        steps=steps,
        edges=[EdgeInfo(source=edge.source, target=edge.target, condition=edge.label) for edge in graph.edges],
        start_groups=sorted(definition.start_groups),
        input_schema=definition.input_schema,
    )


def step_record(execution: StepExecution, *, with_traceback: bool = True) -> StepRecord:
    """One entry of an instance's step history (``with_traceback=False``: its traceback left out)."""
    return StepRecord(
        step=execution.step_name,
        status=execution.status,
        attempt=execution.attempt,
        started_at=execution.started_at,
        completed_at=execution.completed_at,
        error=execution.error,
        result=execution.result,
        completed_by=execution.completed_by,
        traceback=execution.traceback if with_traceback else None,
    )


def _overdue(task: HumanTaskData, now: datetime) -> bool:
    return task.status is TaskStatus.OPEN and task.due_at is not None and task.due_at <= now


def task_summary(task: HumanTaskData, now: datetime) -> TaskSummary:
    """A task as listed (``now`` decides whether it is overdue)."""
    return TaskSummary(
        id=task.id,
        instance_id=task.instance_id,
        workflow=task.workflow_name,
        step=task.step_name,
        title=task.title,
        status=task.status,
        assignee=task.assignee,
        candidate_groups=list(task.candidate_groups),
        claimed_by=task.claimed_by,
        created_at=task.created_at,
        due_at=task.due_at,
        overdue=_overdue(task, now),
    )


def task_detail(task: HumanTaskData, now: datetime, instance_url: str) -> TaskDetail:
    """A task with its form, outcome and a link to its instance."""
    return TaskDetail(
        **msgspec.structs.asdict(task_summary(task, now)),
        description=task.description,
        form_schema=task.form_schema,
        completed_by=task.completed_by,
        completed_at=task.completed_at,
        data=task.data,
        instance_url=instance_url,
    )


def instance_summary(instance: WorkflowInstanceData) -> InstanceSummary:
    """An instance as listed (no data, no history)."""
    return InstanceSummary(
        id=instance.id,
        workflow=instance.workflow_name,
        version=instance.workflow_version,
        status=instance.status,
        current_step=instance.current_step,
        active_steps=instance.active_steps,
        started_at=instance.started_at,
        completed_at=instance.completed_at,
        error=instance.error,
        started_by=instance.started_by,
    )


def instance_detail(
    instance: WorkflowInstanceData,
    open_tasks: list[HumanTaskData],
    now: datetime,
    *,
    tracebacks: bool = False,
    children: Sequence[WorkflowInstanceData] = (),
) -> InstanceDetail:
    """An instance with its data, full step history (tracebacks only with ``tracebacks``), open tasks and links."""
    return InstanceDetail(
        **msgspec.structs.asdict(instance_summary(instance)),
        data=dict(instance.data),
        cancel_reason=instance.cancel_reason,
        history=[step_record(execution, with_traceback=tracebacks) for execution in instance.context.step_history],
        open_tasks=[task_summary(task, now) for task in open_tasks],
        parent_id=instance.parent_id,
        children=[ChildInstance(id=child.id, workflow=child.workflow_name, status=child.status) for child in children],
    )
