"""CSRF protection of the UI's forms, with Litestar's ``CSRFMiddleware``.

The pages are used with cookies (a session, a login cookie), so a form posted from another site
would carry them. Every UI form therefore sends a ``_csrf_token`` field that must match the
signed ``csrftoken`` cookie, which only the app's own pages can read. When the app has a
``CSRFConfig``, its middleware checks the UI's forms like any other; when it has none, the UI's
router gets a ``CSRFMiddleware`` of its own (cookie ``lsw_csrftoken``, limited to the UI's path).

A cookie signed with another secret (the app restarted with a random one) would make every form
fail until the cookie expired: a page that finds one sets a fresh token instead.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash, generate_csrf_token
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState

__all__ = ("UI_CSRF_COOKIE", "form_token", "own_csrf_config")

UI_CSRF_COOKIE = "lsw_csrftoken"
"""The cookie of the UI's own CSRF protection (used when the app has no ``CSRFConfig``)."""


def own_csrf_config(secret: str | None, path: str) -> CSRFConfig:
    """The UI's own CSRF settings: a strict, HTTP-only cookie limited to the UI's pages."""
    return CSRFConfig(
        secret=secret or secrets.token_hex(32),
        cookie_name=UI_CSRF_COOKIE,
        cookie_path=path,
        cookie_httponly=True,  # the token reaches the forms in the page, never through scripts
        cookie_samesite="strict",
    )


def _valid(token: str, secret: str) -> bool:
    if len(token) <= CSRF_SECRET_LENGTH:
        return False
    random_part, signature = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
    return secrets.compare_digest(signature, generate_csrf_hash(random_part, secret))


def form_token(request: Request[Any, Any, Any], config: CSRFConfig) -> tuple[str, Cookie | None]:
    """The token for the page's forms, and a cookie to set when the browser's is missing or stale."""
    # The middleware's token (a GET, or a POST it accepted), else the cookie (a refused POST's error page)
    for token in (
        value_or_default(ScopeState.from_scope(request.scope).csrf_token, ""),
        request.cookies.get(config.cookie_name),
    ):
        if token and _valid(token, config.secret):
            return token, None
    fresh = generate_csrf_token(config.secret)
    cookie = Cookie(
        key=config.cookie_name,
        value=fresh,
        path=config.cookie_path,
        secure=config.cookie_secure,
        httponly=config.cookie_httponly,
        samesite=config.cookie_samesite,
        domain=config.cookie_domain,
    )
    return fresh, cookie
