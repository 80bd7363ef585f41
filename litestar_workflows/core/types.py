"""Enumerations shared by every layer."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from litestar_workflows.core.context import StepExecution
    from litestar_workflows.core.protocols import Step, Workflow

__all__ = (
    "Context",
    "StepExecution",
    "StepStatus",
    "StepT",
    "StepType",
    "T",
    "TaskStatus",
    "TokenStatus",
    "WorkflowStatus",
    "WorkflowT",
)

Context: TypeAlias = dict[str, Any]
"""A workflow's data (litestar-workflows 0.3 name)."""

StepT = TypeVar("StepT", bound="Step")
WorkflowT = TypeVar("WorkflowT", bound="Workflow")
T = TypeVar("T")


def __getattr__(name: str) -> Any:
    # 0.3 exported StepExecution from here; it lives in core.context, which imports this module,
    # so it is looked up on first use instead of imported (that import would be circular).
    if name == "StepExecution":
        from litestar_workflows.core.context import StepExecution

        return StepExecution
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


class StepType(StrEnum):
    """What kind of work a step is."""

    MACHINE = "machine"
    HUMAN = "human"
    WEBHOOK = "webhook"
    TIMER = "timer"
    GATEWAY = "gateway"
    SUBWORKFLOW = "subworkflow"


class StepStatus(StrEnum):
    """Outcome of one recorded step execution."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"


class WorkflowStatus(StrEnum):
    """Lifecycle of a workflow instance."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_finished(self) -> bool:
        """True for the states an instance never leaves (except FAILED through an explicit retry)."""
        return self in _FINISHED


_FINISHED = frozenset({WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELED})


class TokenStatus(StrEnum):
    """Where one thread of execution inside an instance stands.

    READY tokens are runnable (possibly not before a stored time: timers and retry backoff);
    WAITING tokens wait for outside input (a human task or a webhook signal); ARRIVED tokens sit
    at a join until every other branch that could still reach it has arrived.
    """

    READY = "ready"
    WAITING = "waiting"
    ARRIVED = "arrived"


class TaskStatus(StrEnum):
    """Lifecycle of a human task."""

    OPEN = "open"
    COMPLETED = "completed"
    CANCELED = "canceled"
