"""What a start or a task completion produced, as its commit left it (so callers need not read it back)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.engine.persistence import TaskClosure

__all__ = ("TaskCompletion", "WorkflowStart", "closed_task")


@dataclass(frozen=True, slots=True)
class TaskCompletion:
    """The result of ``LocalExecutionEngine.complete_task_detailed``.

    ``task`` is the task as the commit closed it (status, ``completed_by``, ``completed_at``,
    the accepted form data, and ``claimed_by``: the completer); ``instance`` the instance's
    committed state right after the completion. Both are copies the caller may keep or change.
    """

    task: HumanTaskData
    instance: WorkflowInstanceData


@dataclass(frozen=True, slots=True)
class WorkflowStart:
    """The result of ``LocalExecutionEngine.start_workflow_detailed``.

    ``instance`` is the instance as the start committed it; ``opened_tasks`` the human tasks that
    commit opened (those of a first step that is a human task), in the order they were opened.
    Copies the caller may keep or change.
    """

    instance: WorkflowInstanceData
    opened_tasks: list[HumanTaskData]


def closed_task(task: HumanTaskData, closure: TaskClosure) -> HumanTaskData:
    """``task`` (as read before the commit) with what the committed ``closure`` wrote to it; a detached copy.

    The commit checked the closure against the stored task and changed only these fields, so the
    result is the stored task, except for its assignee or groups if they changed (in a way that
    still let the completer act) between the read and the commit.
    """
    return msgspec.structs.replace(
        task,
        status=closure.status,
        claimed_by=closure.claim_after(task.claimed_by),
        completed_by=closure.completed_by,
        completed_at=closure.completed_at,
        data=closure.data,
    ).detached()
