"""Rows <-> engine objects. Kept apart from the SQL so the mapping can be read (and tested) alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar_workflows.core.context import StepExecution, WorkflowContext
from litestar_workflows.core.models import BranchData, HumanTaskData, Token, WorkflowInstanceData
from litestar_workflows.core.types import StepStatus, TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.core.values import decode_value, encode_value

__all__ = (
    "execution_from_row",
    "execution_values",
    "instance_from_row",
    "instance_values",
    "task_from_row",
    "task_values",
)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _token_json(token: Token) -> dict[str, Any]:
    return {
        "id": token.id,
        "step": token.step,
        "status": token.status.value,
        "branch": list(token.branch),
        "delta": encode_value(token.delta),
        "removed": list(token.removed),
        "not_before": _time(token.not_before),
        "attempt": token.attempt,
        "task_id": None if token.task_id is None else str(token.task_id),
        "writers": {key: list(branch) for key, branch in token.writers.items()},
        "retry_base": token.retry_base,
        "child_id": None if token.child_id is None else str(token.child_id),
    }


def _token_from_json(raw: dict[str, Any]) -> Token:
    return Token(
        raw["id"],
        raw["step"],
        TokenStatus(raw["status"]),
        tuple(raw["branch"]),
        decode_value(raw["delta"]),
        tuple(raw["removed"]),
        _parse_time(raw["not_before"]),
        raw["attempt"],
        None if raw["task_id"] is None else UUID(raw["task_id"]),
        {key: tuple(branch) for key, branch in raw.get("writers", {}).items()},
        raw.get("retry_base", 1),
        None if raw.get("child_id") is None else UUID(raw["child_id"]),
    )


def _branch_json(branch: BranchData) -> dict[str, Any]:
    return {
        "branch": list(branch.branch),
        "delta": encode_value(branch.delta),
        "removed": list(branch.removed),
        "writers": {key: list(path) for key, path in branch.writers.items()},
    }


def _branch_from_json(raw: dict[str, Any]) -> BranchData:
    return BranchData(
        tuple(raw["branch"]),
        decode_value(raw["delta"]),
        tuple(raw["removed"]),
        {key: tuple(path) for key, path in raw.get("writers", {}).items()},
    )


def instance_values(instance: WorkflowInstanceData, next_run_at: datetime | None) -> dict[str, Any]:
    """Column values of an instance row (not id, lease, ``started_by`` and the parent link: a start writes those)."""
    context = instance.context
    return {
        "workflow_name": instance.workflow_name,
        "workflow_version": instance.workflow_version,
        "status": instance.status.value,
        "current_step": instance.current_step,
        "context_step": context.current_step,
        "active_steps": instance.active_steps,
        "data": encode_value(context.data),
        "metadata": encode_value(context.metadata),
        "tokens": [_token_json(token) for token in instance.tokens],
        "ended_branches": [_branch_json(branch) for branch in instance.ended_branches],
        "revision": instance.revision,
        "next_token": instance.next_token,
        "user_id": context.user_id,
        "tenant_id": context.tenant_id,
        "error": instance.error,
        "cancel_reason": instance.cancel_reason,
        "started_at": instance.started_at,
        "completed_at": instance.completed_at,
        "next_run_at": next_run_at,
    }


def instance_from_row(row: Any, history: list[StepExecution]) -> WorkflowInstanceData:
    """An instance from its row (any object with the columns as attributes) and its history."""
    context = WorkflowContext(
        workflow_id=row.id,
        instance_id=row.id,
        data=decode_value(row.data),
        metadata=decode_value(row.meta),
        current_step=row.context_step,
        step_history=history,
        started_at=row.started_at,
        user_id=row.user_id,
        tenant_id=row.tenant_id,
    )
    return WorkflowInstanceData(
        id=row.id,
        workflow_name=row.workflow_name,
        workflow_version=row.workflow_version,
        status=WorkflowStatus(row.status),
        context=context,
        current_step=row.current_step,
        error=row.error,
        started_at=row.started_at,
        completed_at=row.completed_at,
        tokens=[_token_from_json(raw) for raw in row.tokens],
        ended_branches=tuple(_branch_from_json(raw) for raw in row.ended_branches),
        revision=row.revision,
        next_token=row.next_token,
        cancel_reason=row.cancel_reason,
        started_by=row.started_by,
        parent_id=row.parent_id,
        parent_token=row.parent_token,
    )


def execution_values(instance_id: UUID, execution: StepExecution) -> dict[str, Any]:
    """Column values of a step-execution row."""
    return {
        "instance_id": instance_id,
        "step_name": execution.step_name,
        "attempt": execution.attempt,
        "status": execution.status.value,
        "result": encode_value(execution.result),
        "error": execution.error,
        "input_data": None if execution.input_data is None else encode_value(execution.input_data),
        "output_data": None if execution.output_data is None else encode_value(execution.output_data),
        "started_at": execution.started_at,
        "completed_at": execution.completed_at,
        "completed_by": execution.completed_by,
        "traceback": execution.traceback,
    }


def execution_from_row(row: Any) -> StepExecution:
    """A step execution from its row."""
    return StepExecution(
        step_name=row.step_name,
        status=StepStatus(row.status),
        result=decode_value(row.result),
        error=row.error,
        started_at=row.started_at,
        completed_at=row.completed_at,
        input_data=None if row.input_data is None else decode_value(row.input_data),
        output_data=None if row.output_data is None else decode_value(row.output_data),
        attempt=row.attempt,
        completed_by=row.completed_by,
        traceback=row.traceback,
    )


def task_values(task: HumanTaskData) -> dict[str, Any]:
    """Column values of a task row (``groups_text`` is ",a,b," for portable group filters)."""
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        "workflow_name": task.workflow_name,
        "step_name": task.step_name,
        "token_id": task.token_id,
        "title": task.title,
        "description": task.description,
        "form_schema": task.form_schema,
        "assignee": task.assignee,
        "candidate_groups": list(task.candidate_groups),
        "groups_text": "".join(f",{group}" for group in task.candidate_groups) + "," if task.candidate_groups else "",
        "status": task.status.value,
        "created_at": task.created_at,
        "due_at": task.due_at,
        "claimed_by": task.claimed_by,
        "completed_by": task.completed_by,
        "completed_at": task.completed_at,
        "submitted_data": None if task.data is None else encode_value(task.data),
    }


def task_from_row(row: Any) -> HumanTaskData:
    """A task from its row."""
    return HumanTaskData(
        id=row.id,
        instance_id=row.instance_id,
        workflow_name=row.workflow_name,
        step_name=row.step_name,
        token_id=row.token_id,
        title=row.title,
        description=row.description,
        form_schema=row.form_schema,
        assignee=row.assignee,
        candidate_groups=list(row.candidate_groups),
        status=TaskStatus(row.status),
        created_at=row.created_at,
        due_at=row.due_at,
        claimed_by=row.claimed_by,
        completed_by=row.completed_by,
        completed_at=row.completed_at,
        data=None if row.submitted_data is None else decode_value(row.submitted_data),
    )
