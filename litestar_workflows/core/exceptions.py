"""The exception hierarchy: everything a user can cause raises a ``WorkflowsError``.

Constructors also accept the arguments litestar-workflows 0.3 documented, by position or by their
0.3 names (``StepExecutionError("step", cause=exc)``, ``InvalidTransitionError(from_step="a",
to_step="b")``, ``WorkflowValidationError(errors=[...])``, ``TaskNotFoundError(task_id=...)``, ...),
so code that raises them keeps working.
"""

from __future__ import annotations

from typing import Any

__all__ = (
    "AccessDeniedError",
    "ChangeRefusedError",
    "ConcurrentUpdateError",
    "DatabaseUnavailableError",
    "DefinitionChangedError",
    "DefinitionMissingError",
    "HumanTaskError",
    "InstanceAlreadyExistsError",
    "InvalidTransitionError",
    "NotAuthenticatedError",
    "SchemaNotReadyError",
    "StepExecutionError",
    "TaskAlreadyCompletedError",
    "TaskClaimedError",
    "TaskNotFoundError",
    "UnauthorizedTaskError",
    "WorkflowAlreadyCompletedError",
    "WorkflowInstanceNotFoundError",
    "WorkflowNotFoundError",
    "WorkflowValidationError",
    "WorkflowsError",
)


class WorkflowsError(Exception):
    """Base class of every error raised by litestar-workflows."""


class WorkflowNotFoundError(WorkflowsError, KeyError):
    """No workflow definition is registered under the given name (and version).

    A ``KeyError`` (so a ``LookupError``), as the registry of 0.3 raised.
    """

    def __init__(self, name: str, version: str | None = None) -> None:
        self.name = name
        self.version = version
        where = f"{name!r} version {version!r}" if version else repr(name)
        super().__init__(f"workflow {where} is not registered")

    def __str__(self) -> str:
        return str(self.args[0])


class WorkflowInstanceNotFoundError(WorkflowsError, KeyError):
    """No instance exists with the given id."""

    def __init__(self, instance_id: object) -> None:
        self.instance_id = instance_id
        super().__init__(f"workflow instance {instance_id} not found")

    def __str__(self) -> str:
        return str(self.args[0])


class WorkflowValidationError(WorkflowsError, ValueError):
    """A definition, a context value or submitted form data is invalid.

    ``errors`` lists every problem found, not only the first.
    """

    def __init__(
        self,
        message: str | list[str] | None = None,
        errors: list[str] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(message, list):  # 0.3's form: just the list of problems
            errors = message
            message = None
        if message is None:
            message = "workflow validation failed"
        self.errors = list(errors or [])
        self.fields = dict(fields or {})
        detail = message if not self.errors else f"{message}: " + "; ".join(self.errors)
        super().__init__(detail)


class InvalidTransitionError(WorkflowsError):
    """The instance is in a state that does not allow the requested action.

    ``InvalidTransitionError(message)``, or 0.3's ``InvalidTransitionError(from_step, to_step, reason)``.
    """

    def __init__(
        self,
        message: str | None = None,
        to_step: str | None = None,
        reason: str | None = None,
        *,
        from_step: str | None = None,
    ) -> None:
        if from_step is not None:  # 0.3's names, given as keywords
            message = from_step
        self.from_step: str | None = None
        self.to_step = to_step
        if to_step is not None:
            self.from_step = message
            message = f"invalid transition from {message!r} to {to_step!r}" + (f": {reason}" if reason else "")
        super().__init__(message or "invalid transition")


class WorkflowAlreadyCompletedError(InvalidTransitionError):
    """The instance has already finished (completed, failed or canceled).

    ``WorkflowAlreadyCompletedError(message)``, or 0.3's ``WorkflowAlreadyCompletedError(instance_id, status)``.
    """

    def __init__(self, message: object = None, status: str | None = None, *, instance_id: object = None) -> None:
        if instance_id is not None:  # 0.3's name, given as a keyword
            message = instance_id
        self.instance_id: object = None
        self.status = status
        if status is not None:
            self.instance_id = message
            message = f"workflow instance {message} is already {status}"
        super().__init__(str(message))


class InstanceAlreadyExistsError(InvalidTransitionError):
    """An instance with the requested id exists already (an idempotent start was repeated)."""

    def __init__(self, instance_id: object) -> None:
        self.instance_id = instance_id
        super().__init__(f"workflow instance {instance_id} already exists")


class StepExecutionError(WorkflowsError):
    """A step raised, timed out, or produced a result that cannot be recorded."""

    def __init__(
        self, step_name: str, message: str | BaseException | None = None, *, cause: BaseException | None = None
    ) -> None:
        if isinstance(message, BaseException):  # 0.3's form: StepExecutionError(step_name, cause)
            message, cause = None, message
        self.step_name = step_name
        self.cause = cause
        detail = message if message is not None else (str(cause) if cause is not None else "")
        super().__init__(f"step {step_name!r} failed: {detail}" if detail else f"step {step_name!r} failed")


class HumanTaskError(WorkflowsError):
    """Base class of the errors about human tasks."""


def _task_message(task: object, template: str) -> tuple[object, str]:
    """(task id, message) for a task error given a message or, as 0.3 did, only the task's id.

    An id (a UUID, or a string without spaces) is filled into ``template``; a sentence is the message.
    """
    if isinstance(task, str) and " " in task.strip():
        return None, task
    return task, template.format(task=task)


class TaskNotFoundError(HumanTaskError, LookupError):
    """No open or closed task matches the given id or (instance, step)."""

    def __init__(self, task: object = None, *, task_id: object = None) -> None:
        self.task_id, message = _task_message(task if task_id is None else task_id, "task {task} not found")
        super().__init__(message)


class TaskAlreadyCompletedError(HumanTaskError):
    """The task was completed (or canceled) before this request reached it."""

    def __init__(self, task: object = None, *, task_id: object = None) -> None:
        self.task_id, message = _task_message(task if task_id is None else task_id, "task {task} is already completed")
        super().__init__(message)


class TaskClaimedError(HumanTaskError):
    """Someone else holds the task's claim, so this user may not claim, release or complete it."""

    def __init__(self, task_id: object, claimed_by: str | None) -> None:
        self.task_id = task_id
        self.claimed_by = claimed_by
        super().__init__(f"task {task_id} is claimed by {claimed_by!r}")


class UnauthorizedTaskError(HumanTaskError, PermissionError):
    """The user may not act on this task.

    ``UnauthorizedTaskError(message)``, or 0.3's ``UnauthorizedTaskError(task_id, user_id)``.
    """

    def __init__(self, message: object = None, user_id: str | None = None, *, task_id: object = None) -> None:
        if task_id is not None:  # 0.3's name, given as a keyword
            message = task_id
        self.task_id: object = None
        self.user_id = user_id
        if user_id is not None:
            self.task_id = message
            message = f"user {user_id!r} is not authorized to act on task {message}"
        super().__init__(str(message))


class ConcurrentUpdateError(WorkflowsError):
    """Another writer changed the instance first; the caller reloads and tries again."""


class ChangeRefusedError(WorkflowsError):
    """The database refused to store one change, written alone (a value it cannot hold, a constraint, a bug).

    Not a passing trouble: the same change would be refused again. Other changes committed in
    the same group are not affected; the engine records a step whose result is refused as a
    failed attempt. Reaching the API, it is a server error (the API's checks should have refused
    the request first).
    """


class AccessDeniedError(WorkflowsError, PermissionError):
    """The authorization policy refuses the caller this action (the API answers 403)."""


class NotAuthenticatedError(AccessDeniedError):
    """The action needs an identified caller and the caller is anonymous (the API answers 401)."""


class DefinitionChangedError(WorkflowValidationError):
    """A registered definition differs from the one recorded under the same name and version.

    Raised at start-up: instances of that version may wait at steps that no longer exist, or
    follow edges that changed under them. ``errors`` lists each difference.
    """


class DefinitionMissingError(WorkflowsError, LookupError):
    """An instance's version is not registered (any more), or it is at a step its definition lacks."""


class SchemaNotReadyError(WorkflowsError, RuntimeError):
    """The database lacks the workflow tables (or columns of them): its migrations were not run."""


class DatabaseUnavailableError(WorkflowsError, ConnectionError):
    """The database cannot be reached (down, restarting, refusing connections); try again later."""
