"""``UIConfig``: the browser UI's settings (``WorkflowPluginConfig(ui=UIConfig())`` turns it on)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from litestar.exceptions import ImproperlyConfiguredException

__all__ = ("DEFAULT_CONTENT_SECURITY_POLICY", "RENDERER_CONTENT_SECURITY_POLICY", "UIConfig")

DEFAULT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""What the UI's pages allow: their own scripts, styles and images only, no inline code of any kind
(``blob:`` images are the workflow diagrams Mermaid draws in the browser)."""

RENDERER_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
"""The policy of the hidden frame in which Mermaid draws diagrams: the pages' rules, except that the
inline styles Mermaid writes are allowed there (the frame holds no data, and only UI pages may embed it)."""


@dataclass
class UIConfig:
    """The task inbox and instance pages, served under the plugin's path (``/workflows/ui`` by default).

    The pages need the ``ui`` extra (``pip install "litestar-workflows[ui]"``: Jinja2). They act for
    the same identity as the REST API (the plugin's ``identity_resolver``) and ask the same policy.
    """

    path: str = "/ui"
    """Where the pages live, under ``WorkflowPluginConfig.path``."""
    title: str = "Workflows"
    """The name in the page header and in every page title."""
    login_url: str | None = None
    """Where a visitor without an identity can sign in: the "sign in" link of the 401 page."""
    links: Sequence[tuple[str, str]] = field(default_factory=tuple)
    """Extra links in the page header, as ``(label, url)`` (back to your app, a sign-out, ...)."""
    page_size: int = 20
    """Tasks or instances per page."""
    csrf_secret: str | None = None
    """Signs the UI's CSRF tokens when the app has no ``CSRFConfig`` of its own (with one, the app's
    protects the UI's forms). None: a random secret per process, which is fine for one process; give
    every process the same secret when several serve the app."""
    content_security_policy: str = DEFAULT_CONTENT_SECURITY_POLICY
    """The ``Content-Security-Policy`` header of every page."""
    refresh_seconds: float = 30.0
    """The inbox also reloads its list this often, for changes no event announces (a claim by someone
    else, events of other processes). Live updates come from server-sent events in between."""
    stream_seconds: float = 300.0
    """An inbox event stream ends after this long and the browser opens a new one, so a server shutting
    down waits at most this long for its open inboxes."""

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or self.path == "/":
            msg = f"UIConfig.path must start with '/' and name a folder, got {self.path!r}"
            raise ImproperlyConfiguredException(msg)
        if self.page_size < 1 or self.page_size > 500:
            msg = f"UIConfig.page_size must be between 1 and 500, got {self.page_size}"
            raise ImproperlyConfiguredException(msg)
        if self.refresh_seconds <= 0 or self.stream_seconds <= 0:
            msg = "UIConfig.refresh_seconds and stream_seconds must be positive"
            raise ImproperlyConfiguredException(msg)
