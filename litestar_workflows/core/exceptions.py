"""The exception hierarchy: everything a user can cause raises a ``WorkflowsError``."""

from __future__ import annotations

from typing import Any

__all__ = (
    "ConcurrentUpdateError",
    "DatabaseUnavailableError",
    "DefinitionChangedError",
    "DefinitionMissingError",
    "HumanTaskError",
    "InstanceAlreadyExistsError",
    "InvalidTransitionError",
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


class WorkflowNotFoundError(WorkflowsError, LookupError):
    """No workflow definition is registered under the given name (and version)."""

    def __init__(self, name: str, version: str | None = None) -> None:
        self.name = name
        self.version = version
        where = f"{name!r} version {version!r}" if version else repr(name)
        super().__init__(f"workflow {where} is not registered")


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

    def __init__(self, message: str, errors: list[str] | None = None, fields: dict[str, Any] | None = None):
        self.errors = list(errors or [])
        self.fields = dict(fields or {})
        detail = message if not self.errors else f"{message}: " + "; ".join(self.errors)
        super().__init__(detail)


class InvalidTransitionError(WorkflowsError):
    """The instance is in a state that does not allow the requested action."""


class WorkflowAlreadyCompletedError(InvalidTransitionError):
    """The instance has already finished (completed, failed or canceled)."""


class InstanceAlreadyExistsError(InvalidTransitionError):
    """An instance with the requested id exists already (an idempotent start was repeated)."""

    def __init__(self, instance_id: object) -> None:
        self.instance_id = instance_id
        super().__init__(f"workflow instance {instance_id} already exists")


class StepExecutionError(WorkflowsError):
    """A step raised, timed out, or produced a result that cannot be recorded."""

    def __init__(self, step_name: str, message: str) -> None:
        self.step_name = step_name
        super().__init__(f"step {step_name!r} failed: {message}")


class HumanTaskError(WorkflowsError):
    """Base class of the errors about human tasks."""


class TaskNotFoundError(HumanTaskError, LookupError):
    """No open or closed task matches the given id or (instance, step)."""


class TaskAlreadyCompletedError(HumanTaskError):
    """The task was completed (or canceled) before this request reached it."""


class TaskClaimedError(HumanTaskError):
    """Someone else holds the task's claim, so this user may not claim, release or complete it."""

    def __init__(self, task_id: object, claimed_by: str | None) -> None:
        self.task_id = task_id
        self.claimed_by = claimed_by
        super().__init__(f"task {task_id} is claimed by {claimed_by!r}")


class UnauthorizedTaskError(HumanTaskError, PermissionError):
    """The user may not act on this task."""


class ConcurrentUpdateError(WorkflowsError):
    """Another writer changed the instance first; the caller reloads and tries again."""


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
