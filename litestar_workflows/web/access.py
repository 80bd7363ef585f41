"""The API's front door: who is calling (401 for anonymous callers), and JSON-only request bodies (415).

:func:`api_gate` is a guard, run by a middleware of the API's router (:func:`gate_middleware`) ahead
of every route the router has, including routes added later; a route that must stay public (a
health check) opts out with ``opt={PUBLIC_ROUTE: True}``. It resolves the caller's identity once per
request and keeps it in the request's state, where the routes find it (:func:`api_call`; the pages'
``workflow_identity`` dependency too).

Bodies must be JSON because browsers send ``application/x-www-form-urlencoded``,
``multipart/form-data`` and ``text/plain`` bodies to other sites without a CORS preflight: an API
that read such a body as JSON would let any web page start, complete or cancel workflows with its
visitors' cookies. Requests with a JSON body need a preflight, which CORS refuses to other sites.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.exceptions import ClientException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types import ASGIApp, Receive, Scope, Send

from litestar_workflows.core.exceptions import NotAuthenticatedError
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.policy import caller_name, require
from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.identity import Identity, IdentityResolver, resolve_identity
from litestar_workflows.web.params import EMPTY_BODY, invalid_body

__all__ = (
    "ACCESS_RAISES",
    "API_STATE_KEY",
    "BODY_RAISES",
    "IDENTITY_STATE_KEY",
    "PUBLIC_ROUTE",
    "Gate",
    "UnsupportedMediaTypeException",
    "api_call",
    "api_gate",
    "caller_identity",
    "gate_middleware",
    "is_json_media_type",
    "remember_identity",
    "remembered_identity",
    "require_json_body",
    "visible_instance",
)

PUBLIC_ROUTE = "workflows_public"
"""``opt`` key of an API route that anonymous callers may reach even without ``allow_anonymous``."""

IDENTITY_STATE_KEY = "litestar_workflows.identity"
"""Where the gate keeps the caller's identity in the request's state."""

API_STATE_KEY = "litestar_workflows.api"
"""Where the API's router keeps its ``WorkflowApi`` in the request's state."""

ACCESS_RAISES = [NotAuthorizedException, PermissionDeniedException]
"""What every API route may answer: 401 (anonymous caller) and 403 (refused by the policy)."""

_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class UnsupportedMediaTypeException(ClientException):
    """415: the request body is not JSON."""

    status_code = HTTP_415_UNSUPPORTED_MEDIA_TYPE


BODY_RAISES = [UnsupportedMediaTypeException]
"""What every API route taking a body may answer besides ``ACCESS_RAISES``."""


def is_json_media_type(content_type: str) -> bool:
    """True for ``application/json`` and ``application/*+json`` (parameters such as ``charset`` allowed)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _has_body(headers: Headers) -> bool:
    if "transfer-encoding" in headers:
        return True
    length = headers.get("content-length")
    if length is None:
        return False
    try:
        return int(length) != 0
    except ValueError:
        return True  # not a length: assume there is something to refuse


def require_json_body(connection: ASGIConnection[Any, Any, Any, Any], takes_body: bool = False) -> None:
    """Refuse (415) a request that sends a body, or names a media type, other than JSON.

    A request without a body and without a ``Content-Type`` (``POST .../claim``) passes, unless
    its route ``takes_body``: then it is a 400 saying the body is empty.
    """
    method = connection.scope.get("method")
    if method is None or method in _NO_BODY_METHODS:  # not HTTP, or a method without a body
        return
    headers = connection.headers  # a property that looks the parsed headers up in the scope at each access
    content_type = headers.get("content-type")
    has_body = _has_body(headers)
    if content_type is None and has_body:
        raise UnsupportedMediaTypeException(
            detail="the request has a body but no Content-Type; send it as application/json"
        )
    if content_type is not None and not is_json_media_type(content_type):
        raise UnsupportedMediaTypeException(
            detail=f"request bodies must be application/json, not {content_type.split(';', 1)[0].strip()!r}"
        )
    if takes_body and not has_body:
        raise invalid_body(connection, "", EMPTY_BODY)


def _requires_body(handler: BaseRouteHandler) -> bool:
    """True if the route's handler takes a body it cannot do without (a ``data`` parameter, not optional)."""
    data = handler.parsed_fn_signature.parameters.get("data")
    return data is not None and not data.has_default and not data.is_optional


Gate = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]
"""An async guard (what :func:`api_gate` returns)."""


def api_gate(resolver: IdentityResolver, *, allow_anonymous: bool) -> Gate:
    """The guard of the API's router: identity (401 when anonymous and not allowed), then JSON bodies."""

    async def workflows_api_gate(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if handler.opt.get(PUBLIC_ROUTE):
            return
        identity = await resolve_identity(resolver, connection)
        remember_identity(connection, identity)
        if identity.is_anonymous and not allow_anonymous:
            raise NotAuthenticatedError("the workflow API needs an authenticated caller")
        require_json_body(connection, takes_body=_requires_body(handler))

    return workflows_api_gate


def gate_middleware(gate: Gate, api: WorkflowApi) -> Callable[[ASGIApp], ASGIApp]:
    """A router middleware that runs ``gate`` before each of the router's routes (and their guards).

    Litestar hands every guard a ``copy.copy`` of the route's handler, an object of some forty
    slots: about a tenth of the CPU a workflow start costs. The gate only reads the handler, so
    it is called here with the route's handler itself and the connection the route will get
    (the same request class, over the same scope); what it raises is answered by the same
    exception handlers as a guard's refusal. ``api`` is kept in the request's state for the
    routes (:func:`api_call`).
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def gated(scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("state", {})[API_STATE_KEY] = api
            handler = scope["route_handler"]
            if isinstance(handler, HTTPRouteHandler):
                connection: ASGIConnection[Any, Any, Any, Any] = handler.resolve_request_class()(scope, receive, send)
            else:
                connection = ASGIConnection(scope, receive, send)
            await gate(connection, handler)
            await app(scope, receive, send)

        return gated

    return wrap


def remember_identity(connection: ASGIConnection[Any, Any, Any, Any], identity: Identity) -> None:
    """Keep the caller's ``identity`` in the request's state, under ``IDENTITY_STATE_KEY``."""
    # The scope's state dict itself, which ``connection.state`` wraps: that property builds a new
    # ``State`` (a lock, type checks) at every access, a cost every request paid twice.
    connection.scope.setdefault("state", {})[IDENTITY_STATE_KEY] = identity


def remembered_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity | None:
    """The identity a gate kept in the request's state, or None."""
    identity = connection.scope.get("state", {}).get(IDENTITY_STATE_KEY)
    return identity if isinstance(identity, Identity) else None


async def api_call(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[WorkflowApi, Identity]:
    """The API a request to the API's router is for, and its caller: what the router's handlers act with and for.

    Read from the request's state, where :func:`gate_middleware` and the gate put them. Not
    dependencies: Litestar resolves those at every request (a signature check of each provider,
    a clean-up group), about 5 % of the CPU of a workflow start.
    """
    api: WorkflowApi = connection.scope["state"][API_STATE_KEY]
    return api, await caller_identity(api.config.identity_resolver, connection)


async def caller_identity(resolver: IdentityResolver, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """The caller's identity as the gate resolved it (resolved here on public routes)."""
    identity = remembered_identity(connection)
    if identity is not None:
        return identity
    return await resolve_identity(resolver, connection)


async def visible_instance(
    api: WorkflowApi, identity: Identity, instance_id: UUID
) -> tuple[WorkflowInstanceData, list[HumanTaskData]]:
    """The instance and all its tasks, if the policy lets ``identity`` see it (404 if none, 401/403 if hidden).

    A hidden instance is a refusal, not a 404, as for tasks: instance ids are random, so telling
    that one exists reveals nothing a caller could use.
    """
    instance = await api.engine.get_instance(instance_id)
    tasks = await api.persistence.list_tasks(instance_id=instance_id)
    allowed = api.policy.may_view_instance(identity, instance, tasks)
    if not allowed and instance.parent_id is not None:  # a sub-workflow: visible to whoever may see its parent
        allowed = api.policy.may_view_instance(identity, instance, tasks, await _ancestors(api, instance))
    require(allowed, identity, f"{caller_name(identity)} may not see instance {instance_id}")
    return instance, tasks


async def _ancestors(
    api: WorkflowApi, instance: WorkflowInstanceData
) -> list[tuple[WorkflowInstanceData, list[HumanTaskData]]]:
    """The parent of a sub-workflow instance, its parent and so on, each with all its tasks."""
    found: list[tuple[WorkflowInstanceData, list[HumanTaskData]]] = []
    parent_id = instance.parent_id
    while parent_id is not None and (parent := await api.persistence.load_instance(parent_id)) is not None:
        found.append((parent, await api.persistence.list_tasks(instance_id=parent_id)))
        parent_id = parent.parent_id
    return found
