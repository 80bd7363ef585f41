"""Engine errors at the HTTP boundary: each ``WorkflowsError`` subclass gets one status code.

The handler turns the error into the matching Litestar ``HTTPException`` and hands it to the
handler the app uses for that exception (or status code), falling back to Litestar's own
response. So every error has Litestar's shape ``{"status_code", "detail", "extra"}``, and a host
that renders errors differently (``ProblemDetailsPlugin``, its own handler) sees ours too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ServiceUnavailableException,
    ValidationException,
)
from litestar.exceptions.responses import create_exception_response
from litestar.status_codes import HTTP_409_CONFLICT
from litestar.types import ExceptionHandlersMap

from litestar_workflows.core.exceptions import (
    AccessDeniedError,
    ConcurrentUpdateError,
    DatabaseUnavailableError,
    DefinitionMissingError,
    InvalidTransitionError,
    NotAuthenticatedError,
    TaskAlreadyCompletedError,
    TaskClaimedError,
    TaskNotFoundError,
    UnauthorizedTaskError,
    WorkflowInstanceNotFoundError,
    WorkflowNotFoundError,
    WorkflowsError,
    WorkflowValidationError,
)

__all__ = (
    "RETRY_AFTER_SECONDS",
    "ConflictException",
    "exception_handlers_for",
    "to_http_exception",
    "workflows_exception_handler",
)

RETRY_AFTER_SECONDS = 5
"""What a 503 for a database outage tells clients to wait before they try again (``Retry-After``)."""


class ConflictException(ClientException):
    """409: the request conflicts with the current state (a task already done, a finished instance)."""

    status_code = HTTP_409_CONFLICT


_MAPPING: tuple[tuple[type[WorkflowsError], type[HTTPException]], ...] = (
    (WorkflowValidationError, ValidationException),
    (NotAuthenticatedError, NotAuthorizedException),  # before its base: anonymous callers get 401
    (AccessDeniedError, PermissionDeniedException),
    (UnauthorizedTaskError, PermissionDeniedException),
    (WorkflowNotFoundError, NotFoundException),
    (WorkflowInstanceNotFoundError, NotFoundException),
    (TaskNotFoundError, NotFoundException),
    (TaskAlreadyCompletedError, ConflictException),
    (TaskClaimedError, ConflictException),  # ``extra`` names the holder: {"claimed_by": ...}
    (InvalidTransitionError, ConflictException),  # includes WorkflowAlreadyCompletedError
    (ConcurrentUpdateError, ConflictException),
    (DefinitionMissingError, ConflictException),  # the instance's version or step is not registered
    (DatabaseUnavailableError, ServiceUnavailableException),  # with ``Retry-After``
)
"""Which HTTP error each handled engine error becomes; other ``WorkflowsError``s are server errors."""

HANDLED: tuple[type[WorkflowsError], ...] = tuple(error for error, _ in _MAPPING)


def _validation_extra(exc: WorkflowValidationError) -> list[dict[str, Any]]:
    """Per-field problems in Litestar's validation shape (``key``, ``message``, ``source``)."""
    if exc.fields:
        return [{"key": key, "message": str(message), "source": "body"} for key, message in exc.fields.items()]
    return [{"message": message, "source": "body"} for message in exc.errors]


def to_http_exception(exc: WorkflowsError) -> HTTPException:
    """The Litestar exception for ``exc`` (a plain 500 for unmapped errors)."""
    for error_type, http_type in _MAPPING:
        if isinstance(exc, error_type):
            if isinstance(exc, WorkflowValidationError):
                return http_type(detail=str(exc), extra=_validation_extra(exc))
            if isinstance(exc, TaskClaimedError):
                return http_type(detail=str(exc), extra={"claimed_by": exc.claimed_by})
            if isinstance(exc, DatabaseUnavailableError):
                return http_type(detail=str(exc), headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            return http_type(detail=str(exc))
    return HTTPException(detail="Internal Server Error")


def _host_handler(handlers: Mapping[Any, Any], exc: HTTPException) -> Any:
    """The app's handler for ``exc``: by status code first, then by class (as Litestar looks them up)."""
    if exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if not issubclass(cls, HTTPException):
            break  # a catch-all ``Exception`` handler is not meant for HTTP errors
        if cls in handlers:
            return handlers[cls]
    return None


def workflows_exception_handler(request: Request[Any, Any, Any], exc: WorkflowsError) -> Response[Any]:
    """Exception handler registered by the plugin for each mapped ``WorkflowsError``."""
    http_exc = to_http_exception(exc)
    handler = _host_handler(request.route_handler.resolve_exception_handlers(), http_exc)
    if handler is not None:
        response: Response[Any] = handler(request, http_exc)
        return response
    return create_exception_response(request, http_exc)


def exception_handlers_for(existing: ExceptionHandlersMap) -> ExceptionHandlersMap:
    """Handlers to add for the engine's errors, skipping any the host already handles itself.

    A host handler registered for an error or one of its ``WorkflowsError`` base classes wins:
    the plugin never overrides it.
    """
    added: ExceptionHandlersMap = {}
    for error_type in HANDLED:
        if any(cls in existing for cls in error_type.__mro__ if issubclass(cls, WorkflowsError)):
            continue
        added[error_type] = workflows_exception_handler
    return added
