"""DEMO ONLY: pick who you are from a list, remembered in a cookie that the demo's authentication reads.

The expense example has no real authentication (it trusts the ``X-User`` header, see ``app.py``). So
that the browser UI can be tried as each demo user, ``/demo/login`` offers the users in a form and
stores the choice in the ``demo_user`` cookie (HTTP-only, SameSite=Strict); ``/demo/logout`` forgets
it. Never let people choose who they are in a real app.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState

from litestar_workflows.ui import DEFAULT_CONTENT_SECURITY_POLICY

__all__ = ("DEMO_COOKIE", "demo_login_handlers")

DEMO_COOKIE = "demo_user"
"""The cookie naming the demo user the browser acts as."""

INBOX = "/workflows/ui/"


def _page(users: dict[str, tuple[str, ...]], current: str | None, token: str) -> str:
    options = "".join(
        f'<option value="{escape(name)}"{" selected" if name == current else ""}>'
        f"{escape(name)} ({escape(', '.join(groups))})</option>"
        for name, groups in users.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Choose a demo user · Expense demo</title><link rel="stylesheet" href="/workflows/ui/static/ui.css">
<link rel="icon" href="/workflows/ui/static/favicon.svg" type="image/svg+xml"></head>
<body><main id="main"><h1>Choose a demo user</h1>
<p class="alert" role="note"><strong>Demo only.</strong> This example has no real sign-in: whoever opens it may act as
anyone. A real app authenticates its users (see docs/authorization.md).</p>
<form method="post" action="/demo/login"><input type="hidden" name="_csrf_token" value="{escape(token)}">
<div class="field"><label for="demo-user">Act as</label><select id="demo-user" name="user">{options}</select></div>
<div class="actions"><button type="submit">Continue to the inbox</button></div></form>
<form method="post" action="/demo/logout"><input type="hidden" name="_csrf_token" value="{escape(token)}">
<div class="actions"><button type="submit" class="secondary">Sign out</button></div></form>
</main></body></html>"""


def demo_login_handlers(users: dict[str, tuple[str, ...]]) -> list[Any]:
    """The ``/demo/login`` page and form, and ``/demo/logout``, for these demo users."""

    @get("/demo/login", name="demo:login", include_in_schema=False)
    async def choose(request: Request[Any, Any, Any]) -> Response[str]:
        token = value_or_default(ScopeState.from_scope(request.scope).csrf_token, "")
        current = request.cookies.get(DEMO_COOKIE)
        headers = {"Content-Security-Policy": DEFAULT_CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"}
        return Response(_page(users, current, token), media_type=MediaType.HTML, headers=headers)

    @post("/demo/login", name="demo:login-as", include_in_schema=False, status_code=HTTP_303_SEE_OTHER)
    async def login(request: Request[Any, Any, Any]) -> Redirect:
        user = (await request.form()).get("user")
        if user not in users:
            raise ValidationException(detail=f"choose one of the demo users: {', '.join(users)}")
        cookie = Cookie(key=DEMO_COOKIE, value=str(user), path="/", httponly=True, samesite="strict")
        return Redirect(INBOX, status_code=HTTP_303_SEE_OTHER, cookies=[cookie])

    @post("/demo/logout", name="demo:logout", include_in_schema=False, status_code=HTTP_303_SEE_OTHER)
    async def logout() -> Redirect:
        cookie = Cookie(key=DEMO_COOKIE, value="", path="/", httponly=True, samesite="strict", max_age=0)
        return Redirect("/demo/login", status_code=HTTP_303_SEE_OTHER, cookies=[cookie])

    return [choose, login, logout]
