"""The UI's routers: its pages (behind the same identity check as the API) and its static files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.static_files import create_static_files_router

from litestar_workflows.core.exceptions import NotAuthenticatedError, WorkflowsError
from litestar_workflows.ui.csrf import own_csrf_config
from litestar_workflows.ui.inbox import InboxPages
from litestar_workflows.ui.instances import InstancePages
from litestar_workflows.ui.rendering import STATIC_DIR, Pages, is_htmx
from litestar_workflows.web.access import caller_identity, remember_identity, remembered_identity
from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.errors import to_http_exception
from litestar_workflows.web.identity import ANONYMOUS, Identity, IdentityResolver, resolve_identity

if TYPE_CHECKING:
    from litestar.config.app import AppConfig

    from litestar_workflows.config import WorkflowPluginConfig

__all__ = ("ui_routers",)

_TITLES = {
    400: "That did not work",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Someone was quicker",
    413: "Too much data",
}


def _ui_gate(
    resolver: IdentityResolver, *, allow_anonymous: bool
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """The pages' guard: the API's identity rule (401 for anonymous callers unless allowed), no JSON rule."""

    async def workflows_ui_gate(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        identity = await resolve_identity(resolver, connection)
        remember_identity(connection, identity)
        if identity.is_anonymous and not allow_anonymous:
            raise NotAuthenticatedError("the workflow pages need a signed-in user")

    return workflows_ui_gate


def _error_handler(pages: Pages) -> Callable[[Request[Any, Any, Any], Exception], Response[str]]:
    """Errors as readable pages (for htmx, a message put in the page's message area)."""

    def render_error(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
        http = to_http_exception(exc) if isinstance(exc, WorkflowsError) else exc
        assert isinstance(http, HTTPException)
        status = http.status_code
        identity = remembered_identity(request)
        context = {
            "status": status,
            "title": _TITLES.get(status, "Something went wrong"),
            "detail": http.detail if status < 500 else "The server could not do this. Please try again later.",
            "fields": http.extra if isinstance(http.extra, list) else [],
        }
        who = identity if identity is not None else ANONYMOUS
        if is_htmx(request):
            headers = {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
            return pages.render(request, "_error.html", who, context, status_code=status, headers=headers)
        return pages.render(request, "error.html", who, context, status_code=status)

    return render_error


def ui_routers(api: WorkflowApi, config: WorkflowPluginConfig, app_config: AppConfig) -> list[Router]:
    """The pages' router and the static files' router, under ``config.path + config.ui.path``."""
    ui = config.ui
    assert ui is not None
    base = config.path.rstrip("/") + ui.path
    csrf: CSRFConfig | None = app_config.csrf_config
    own_csrf = csrf is None  # the app's middleware protects the UI's forms when it has one
    if csrf is None:
        csrf = own_csrf_config(ui.csrf_secret, base)
    pages = Pages(api, ui, base, csrf)
    resolver = config.identity_resolver

    def provide_pages() -> Pages:
        return pages

    def provide_api() -> WorkflowApi:
        return api

    async def provide_identity(request: Request[Any, Any, Any]) -> Identity:
        return await caller_identity(resolver, request)

    handler = _error_handler(pages)
    pages_router = Router(
        path=base,
        route_handlers=[InboxPages, InstancePages],
        dependencies={
            "ui_pages": Provide(provide_pages, sync_to_thread=False),
            "workflow_api": Provide(provide_api, sync_to_thread=False),
            "workflow_identity": Provide(provide_identity),
        },
        # The host's api_guards too: an app that closes the workflow API to some callers closes the
        # pages that do the same things to them (the guards' errors come back as readable pages).
        guards=[_ui_gate(resolver, allow_anonymous=config.allow_anonymous), *config.api_guards],
        middleware=[DefineMiddleware(CSRFMiddleware, config=csrf)] if own_csrf else [],
        exception_handlers={HTTPException: handler, WorkflowsError: handler},
        request_max_body_size=config.max_body_size,
        include_in_schema=False,
    )
    static_router = create_static_files_router(
        path=f"{base}/static",
        directories=[STATIC_DIR],
        name="workflows:ui:static",
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=3600),
    )
    return [pages_router, static_router]
