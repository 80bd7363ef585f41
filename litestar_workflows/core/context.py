"""What a step sees while it runs, and the record of one step execution."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from litestar_workflows.core.form_types import read_form
from litestar_workflows.core.types import StepStatus
from litestar_workflows.core.values import NESTED_TYPES, NUL, PLAIN_TYPES, copy_nested, ensure_storable, private_copy

__all__ = ("StepExecution", "WorkflowContext")

FormT = TypeVar("FormT")


class StepExecution(msgspec.Struct, gc=False, frozen=True):
    """One recorded run of a step (one per attempt, so retries are visible).

    Frozen: a recorded run never changes, so copies of an instance share their history's entries
    (only values nested in ``result``, ``input_data`` or ``output_data`` need copying).

    Not tracked by the garbage collector (``gc=False``): its result and data are storable
    values, which cannot refer back to it, so it is never part of a reference cycle, and every
    instance's history keeps one per step.
    """

    step_name: str
    status: StepStatus
    result: Any = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    input_data: dict[str, Any] | None = None
    output_data: dict[str, Any] | None = None
    attempt: int = 1
    completed_by: str | None = None
    traceback: str | None = None
    """The formatted traceback of a failed attempt (what the step raised, with its causes)."""

    def detached(self) -> StepExecution:
        """A copy whose nested values (result, input and output data) are copies too.

        This run itself when it holds no dict or list (it is frozen, so it may be shared).
        """
        if type(self.result) not in NESTED_TYPES and not self.input_data and not self.output_data:
            return self
        return msgspec.structs.replace(
            self,
            result=copy_nested(self.result),
            input_data=None if self.input_data is None else private_copy(self.input_data),
            output_data=None if self.output_data is None else private_copy(self.output_data),
        )


class WorkflowContext(msgspec.Struct, gc=False):
    """The data of one instance, as seen by the step that is running.

    Steps read and write ``data`` through :meth:`get` and :meth:`set`; the engine records what
    changed when the step returns. Values must be storable (see ``litestar_workflows.core.values``):
    ``set`` refuses anything that would not survive a restart unchanged.

    Not tracked by the garbage collector (``gc=False``; the engine builds one per step): its
    data, history and ids cannot refer back to it, so it is freed as soon as the last reference
    goes. Do not put the context itself, or anything holding it, into its ``metadata``: that
    reference cycle would never be freed.
    """

    workflow_id: UUID
    instance_id: UUID
    data: dict[str, Any]
    metadata: dict[str, Any]
    current_step: str
    step_history: list[StepExecution]
    started_at: datetime
    user_id: str | None = None
    tenant_id: str | None = None
    attempt: int = 1
    session: Any = None
    """Database session of the step's own checkpoint, for transactional steps (SQL persistence only)."""
    token_id: str = ""
    """The execution thread running the step; a new one for every visit of a step (loops)."""

    def get(self, key: str, default: Any = None) -> Any:
        """Return ``data[key]``, or ``default`` when the key is missing."""
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``; raises ``WorkflowValidationError`` if it cannot be persisted."""
        if type(value) not in PLAIN_TYPES or NUL in key:
            ensure_storable(key, value)
        self.data[key] = value

    def get_last_execution(self, step_name: str | None = None) -> StepExecution | None:
        """The latest recorded run of ``step_name`` (of any step when None), or None if there is none."""
        for execution in reversed(self.step_history):
            if step_name is None or execution.step_name == step_name:
                return execution
        return None

    def has_step_executed(self, step_name: str) -> bool:
        """True if ``step_name`` has a recorded run (of any outcome) in this instance's history."""
        return any(execution.step_name == step_name for execution in self.step_history)

    def get_form(self, form_type: type[FormT]) -> FormT:
        """The fields of a typed form (or of the workflow's input type) read back as that type.

        ``context.get_form(Decision)`` after a step with ``form=Decision`` was completed. Raises
        ``WorkflowValidationError`` when a required field is missing (the form was not submitted
        yet) or a value no longer fits the type (a step overwrote one of its keys).
        """
        return read_form(self.data, form_type)

    def with_step(self, step_name: str) -> WorkflowContext:
        """Return a copy positioned on ``step_name`` with its own data dict."""
        return self.evolve(current_step=step_name, data=dict(self.data), metadata=dict(self.metadata))

    def evolve(
        self,
        *,
        data: dict[str, Any] | None = None,
        current_step: str | None = None,
        attempt: int | None = None,
        metadata: dict[str, Any] | None = None,
        step_history: list[StepExecution] | None = None,
        token_id: str | None = None,
    ) -> WorkflowContext:
        """A shallow copy with some fields replaced (``dataclasses.replace`` is too slow for the hot path)."""
        return WorkflowContext(
            self.workflow_id,
            self.instance_id,
            self.data if data is None else data,
            self.metadata if metadata is None else metadata,
            self.current_step if current_step is None else current_step,
            self.step_history if step_history is None else step_history,
            self.started_at,
            self.user_id,
            self.tenant_id,
            self.attempt if attempt is None else attempt,
            self.session,
            self.token_id if token_id is None else token_id,
        )

    @property
    def idempotency_key(self) -> str:
        """Key for the step's own side effects: the same when a crash makes the step run again.

        Built from the instance, the step, the visit (a loop that comes back to the step gets a
        new key) and the attempt (each retry is a new key: an attempt that failed may or may not
        have had its effect, so make the effect itself idempotent where retries matter).
        """
        if not self.token_id:  # a context built by hand, outside an instance's execution
            return f"{self.instance_id}:{self.current_step}:{self.attempt}"
        return f"{self.instance_id}:{self.current_step}:{self.token_id}:{self.attempt}"
