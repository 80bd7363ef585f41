"""Base classes users subclass to write steps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.form_types import form_type_schema
from litestar_workflows.core.forms import form_fields_of
from litestar_workflows.core.kinds import TASK, StepKind
from litestar_workflows.core.types import StepType

__all__ = ("BaseHumanStep", "BaseMachineStep", "BaseStep", "RetryBackoff")

RetryBackoff = float | Callable[[int], float]
"""Seconds to wait before retry number ``n`` (1-based), or a function of ``n`` returning them."""


class BaseStep:
    """Common behaviour of all steps.

    Subclasses set ``name`` (as a class attribute or through the constructor) and implement
    :meth:`execute`. Retries, backoff and timeout are class attributes that a constructor argument
    can override per instance.
    """

    name: str = ""
    description: str = ""
    step_type: StepType = StepType.MACHINE
    max_retries: int = 0
    """Extra attempts after the first failure."""
    retry_backoff: RetryBackoff = 0.0
    timeout: float | None = None
    """Seconds after which a running attempt is cancelled and counts as failed."""

    def __init__(
        self,
        name: str | None = None,
        description: str | None = None,
        *,
        max_retries: int | None = None,
        retry_backoff: RetryBackoff | None = None,
        timeout: float | None = None,
    ) -> None:
        if name is not None:
            self.name = name
        if description is not None:
            self.description = description
        if max_retries is not None:
            self.max_retries = max_retries
        if retry_backoff is not None:
            self.retry_backoff = retry_backoff
        if timeout is not None:
            self.timeout = timeout
        if not self.name:
            msg = f"{type(self).__name__} needs a name (class attribute or constructor argument)"
            raise ValueError(msg)
        if self.max_retries < 0:
            msg = f"step {self.name!r}: max_retries must be >= 0"
            raise ValueError(msg)

    async def execute(self, context: WorkflowContext) -> Any:
        """Do the step's work. The default does nothing and returns None."""
        return None

    async def can_execute(self, context: WorkflowContext) -> bool:
        """Return False to skip the step."""
        return True

    async def on_success(self, context: WorkflowContext, result: Any) -> None:
        """Hook called after a successful ``execute``."""

    async def on_failure(self, context: WorkflowContext, error: Exception) -> None:
        """Hook called after a failed attempt."""

    def backoff_for(self, attempt: int) -> float:
        """Seconds to wait before the retry that follows failed attempt number ``attempt``."""
        backoff = self.retry_backoff
        return float(backoff(attempt) if callable(backoff) else backoff)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class BaseMachineStep(BaseStep):
    """An automated step: the engine runs ``execute``."""

    step_type: StepType = StepType.MACHINE


class BaseHumanStep(BaseStep):
    """A step done by a person: reaching it opens a task; completing the task moves on.

    The step's form decides what a completion may change, so an approver cannot overwrite
    other keys:

    - ``form``: a msgspec ``Struct``, a dataclass or a ``TypedDict``. Submitted data is checked
      by msgspec (unknown keys are refused), the type's fields are merged into the context,
      ``form_schema`` is derived from it, and steps read it back with ``context.get_form(Type)``;
    - or ``form_schema``: a JSON Schema; the ``properties`` it declares are merged (see
      :func:`litestar_workflows.core.forms.form_fields_of`);
    - without either, the task takes no data (an empty object) unless ``accept_any_data`` is
      set, in which case every submitted key is merged.

    The assignee is read from the context key ``assignee_key``; ``candidate_groups`` may act too.
    """

    step_type: StepType = StepType.HUMAN
    step_kind: ClassVar[StepKind] = TASK
    title: str = ""
    form: type[Any] | None = None
    """The form as a type; ``form_schema`` is derived from it."""
    form_schema: dict[str, Any] | None = None
    accept_any_data: bool = False
    """Without a form: merge whatever is submitted (the default refuses any key)."""
    assignee_key: str | None = None
    candidate_groups: tuple[str, ...] = ()
    due_in: timedelta | None = None
    """Time allowed before the task is overdue; its due time is stored on the task."""

    def __init__(
        self,
        name: str | None = None,
        title: str | None = None,
        description: str = "",
        form_schema: dict[str, Any] | None = None,
        assignee_key: str | None = None,
        *,
        candidate_groups: list[str] | tuple[str, ...] | None = None,
        due_in: timedelta | None = None,
        form: type[Any] | None = None,
        accept_any_data: bool | None = None,
    ) -> None:
        super().__init__(name, description or None)
        if title is not None:
            self.title = title
        if not self.title:
            self.title = self.name.replace("_", " ").capitalize()
        if form_schema is not None:
            self.form_schema = form_schema
        if assignee_key is not None:
            self.assignee_key = assignee_key
        if candidate_groups is not None:
            self.candidate_groups = tuple(candidate_groups)
        if due_in is not None:
            self.due_in = due_in
        if form is not None:
            self.form = form
        if accept_any_data is not None:
            self.accept_any_data = accept_any_data
        self._settle_form()

    def _settle_form(self) -> None:
        if self.form is not None:
            if self.form_schema is not None:
                msg = f"step {self.name!r}: give form or form_schema, not both"
                raise ValueError(msg)
            self.form_schema = form_type_schema(self.form)  # TypeError for a type that is no form
        if self.accept_any_data and self.form_schema is not None:
            msg = f"step {self.name!r}: accept_any_data is for steps without a form"
            raise ValueError(msg)

    def form_fields(self) -> frozenset[str] | None:
        """Keys a completion merges into the context; None when the step takes any data.

        Raises ``ValueError`` for a form schema whose fields cannot be determined (such a step is
        refused when its definition is registered).
        """
        if self.form_schema is None:
            return None if self.accept_any_data else frozenset()
        return form_fields_of(self.form_schema)

    async def execute(self, context: WorkflowContext) -> Any:
        """Human steps are completed through tasks, not executed; kept for protocol compatibility."""
        return None
