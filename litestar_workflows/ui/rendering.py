"""Rendering the UI's pages: a Jinja environment of the package's own (the host's template setup is left alone).

Every page gets the same security headers (the configured Content-Security-Policy, no caching of
pages that show personal data, no MIME sniffing), the caller's identity for the header, and a
CSRF token for its forms (:mod:`litestar_workflows.ui.csrf`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import MediaType, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import ImproperlyConfiguredException

from litestar_workflows.ui.config import UIConfig
from litestar_workflows.ui.csrf import form_token
from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.identity import Identity, is_admin

__all__ = ("STATIC_DIR", "TEMPLATES_DIR", "Pages", "is_htmx")

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """True for a request htmx sent (it wants a piece of a page, not a whole one)."""
    return request.headers.get("hx-request") == "true"


def _moment(value: datetime | None) -> str:
    """A date-time as people read it, in UTC (the page says so)."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _shown(value: Any) -> str:
    """A context value as text: strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


class Pages:
    """Renders templates into responses for one app (its API object, UI settings and CSRF settings)."""

    __slots__ = ("_environment", "api", "base_path", "config", "csrf")

    def __init__(self, api: WorkflowApi, config: UIConfig, base_path: str, csrf: CSRFConfig) -> None:
        try:
            import jinja2
        except ImportError:
            msg = 'the workflow UI needs Jinja2: pip install "litestar-workflows[ui]"'
            raise ImproperlyConfiguredException(msg) from None
        self.api = api
        self.config = config
        self.base_path = base_path
        self.csrf = csrf
        self._environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._environment.filters["moment"] = _moment
        self._environment.filters["shown"] = _shown
        self._environment.filters["short"] = lambda value: str(value)[:8]

    def url(self, suffix: str = "/", **query: Any) -> str:
        """The URL of a UI page (``suffix`` below the UI's path), with the query parameters that are set."""
        params = {key: value for key, value in query.items() if value not in (None, "", False)}
        path = self.base_path.rstrip("/") + suffix
        return f"{path}?{urlencode(params, doseq=True)}" if params else path

    def page_links(self, suffix: str, query: Mapping[str, Any], offset: int, total: int) -> dict[str, str | None]:
        """The previous and next page of a listing at ``offset`` (None where there is none)."""
        size = self.config.page_size
        previous = self.url(suffix, **query, offset=max(offset - size, 0) or None) if offset else None
        following = self.url(suffix, **query, offset=offset + size) if offset + size < total else None
        return {"previous_url": previous, "next_url": following}

    def static(self, name: str) -> str:
        """The URL of a file the UI serves (scripts, styles)."""
        return f"{self.base_path.rstrip('/')}/static/{name}"

    def render(
        self,
        request: Request[Any, Any, Any],
        template: str,
        identity: Identity,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response[str]:
        """Render ``template`` as the page (or, for htmx, the piece) answering ``request``."""
        token, cookie = form_token(request, self.csrf)
        values = {
            "ui": self.config,
            "url": self.url,
            "static": self.static,
            "identity": identity,
            "is_admin": is_admin(identity, self.api.admin_role),
            "csrf_token": token,
            "request_path": request.url.path,
            **(context or {}),
        }
        html = self._environment.get_template(template).render(values)
        response = Response(html, media_type=MediaType.HTML, status_code=status_code, headers=self.headers(headers))
        if cookie is not None:
            response.set_cookie(cookie)
        return response

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The security headers of every UI response."""
        headers = {
            "Content-Security-Policy": self.config.content_security_policy,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }
        headers.update(extra or {})
        return headers
