"""Typed lifecycle events, with the names and fields litestar-workflows 0.3 declared.

0.3 declared these classes but its engines never produced them: their event bus received
``emit("workflow.started", instance_id=...)`` calls, as ours does. So code written for 0.3
that builds these events itself keeps working, and :func:`typed_event` turns one of our bus
events (``engine.events.WorkflowEvent``, or anything with ``event_type``, ``instance_id``,
``payload`` and ``at``) into the matching class, for subscribers that prefer typed events::

    async with bus.subscribe(instance.id) as queue:
        event = typed_event(await queue.get())  # WorkflowStarted(...), StepCompleted(...), ...

Events with no 0.3 counterpart (``workflow.retried``, ``step.scheduled``) give None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import msgspec

__all__ = (
    "BusEvent",
    "HumanTaskCompleted",
    "HumanTaskCreated",
    "HumanTaskReassigned",
    "StepCompleted",
    "StepFailed",
    "StepSkipped",
    "StepStarted",
    "WorkflowCanceled",
    "WorkflowCompleted",
    "WorkflowEvent",
    "WorkflowFailed",
    "WorkflowPaused",
    "WorkflowResumed",
    "WorkflowStarted",
    "typed_event",
)


class WorkflowEvent(msgspec.Struct):
    """Base of the typed events: which instance, and when."""

    instance_id: UUID
    timestamp: datetime


class WorkflowStarted(WorkflowEvent):
    """An instance was created and began to run."""

    workflow_name: str
    workflow_version: str
    initial_data: dict[str, Any] | None = None
    user_id: str | None = None
    tenant_id: str | None = None


class WorkflowCompleted(WorkflowEvent):
    """An instance reached its terminal step(s)."""

    status: str
    final_step: str | None = None
    duration_seconds: float | None = None


class WorkflowFailed(WorkflowEvent):
    """An instance stopped on an error."""

    error: str
    failed_step: str | None = None
    error_type: str | None = None
    stack_trace: str | None = None


class WorkflowCanceled(WorkflowEvent):
    """An instance was cancelled."""

    reason: str
    canceled_by: str | None = None
    current_step: str | None = None


class WorkflowPaused(WorkflowEvent):
    """An instance waits (for a person or an outside signal)."""

    reason: str | None = None
    paused_at_step: str | None = None


class WorkflowResumed(WorkflowEvent):
    """A waiting instance continues."""

    resumed_by: str | None = None
    resuming_at_step: str | None = None


class StepStarted(WorkflowEvent):
    """A step began to run."""

    step_name: str
    step_type: str
    input_data: dict[str, Any] | None = None


class StepCompleted(WorkflowEvent):
    """A step finished successfully (or was skipped by its ``can_execute``)."""

    step_name: str
    status: str
    result: Any = None
    output_data: dict[str, Any] | None = None
    duration_seconds: float | None = None


class StepFailed(WorkflowEvent):
    """An attempt of a step failed."""

    step_name: str
    error: str
    error_type: str | None = None
    retry_count: int = 0


class StepSkipped(WorkflowEvent):
    """A step was skipped."""

    step_name: str
    reason: str | None = None


class HumanTaskCreated(WorkflowEvent):
    """A human step opened a task."""

    step_name: str
    task_id: UUID
    assignee: str | None = None
    title: str | None = None
    description: str | None = None
    due_at: datetime | None = None


class HumanTaskCompleted(WorkflowEvent):
    """Someone completed a task."""

    step_name: str
    task_id: UUID
    completed_by: str
    form_data: dict[str, Any] | None = None
    comment: str | None = None


class HumanTaskReassigned(WorkflowEvent):
    """A task changed hands."""

    step_name: str
    task_id: UUID
    from_assignee: str | None = None
    to_assignee: str | None = None
    reassigned_by: str | None = None
    reason: str | None = None


class BusEvent(Protocol):
    """What an event bus delivers (``engine.events.WorkflowEvent`` has these attributes)."""

    @property
    def event_type(self) -> str: ...

    @property
    def instance_id(self) -> UUID: ...

    @property
    def payload(self) -> dict[str, Any]: ...

    @property
    def at(self) -> datetime: ...


def _waiting(instance_id: UUID, at: datetime, payload: Mapping[str, Any]) -> WorkflowEvent:
    steps = payload.get("steps") or [None]
    return WorkflowPaused(instance_id, at, reason="waiting for input", paused_at_step=steps[0])


_BUILDERS: dict[str, Callable[[UUID, datetime, Mapping[str, Any]], WorkflowEvent]] = {
    "workflow.started": lambda i, at, p: WorkflowStarted(
        i, at, p.get("workflow_name", ""), p.get("workflow_version", "")
    ),
    "workflow.completed": lambda i, at, _p: WorkflowCompleted(i, at, status="completed"),
    "workflow.failed": lambda i, at, p: WorkflowFailed(i, at, error=str(p.get("error") or "")),
    "workflow.canceled": lambda i, at, p: WorkflowCanceled(i, at, reason=str(p.get("reason") or "")),
    "workflow.waiting": _waiting,
    "step.succeeded": lambda i, at, p: StepCompleted(i, at, p["step_name"], str(p.get("status", "succeeded"))),
    "step.failed": lambda i, at, p: StepFailed(
        i, at, p["step_name"], str(p.get("error") or ""), retry_count=max(int(p.get("attempt", 1)) - 1, 0)
    ),
    "task.created": lambda i, at, p: HumanTaskCreated(i, at, p["step_name"], UUID(str(p["task_id"]))),
    "task.completed": lambda i, at, p: HumanTaskCompleted(
        i, at, p["step_name"], UUID(str(p["task_id"])), str(p.get("user_id", ""))
    ),
}


def typed_event(event: BusEvent) -> WorkflowEvent | None:
    """The typed event for one bus event, or None when 0.3 had no class for it."""
    build = _BUILDERS.get(event.event_type)
    return None if build is None else build(event.instance_id, event.at, event.payload)
