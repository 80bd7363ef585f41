"""The browser UI: a task inbox and instance pages, served by the plugin (``WorkflowPluginConfig(ui=UIConfig())``).

Server-rendered with Jinja2 (the ``ui`` extra) and htmx, with no inline scripts or styles, so the
pages work offline and behind a strict Content-Security-Policy. They act for the same identity,
through the same operations and policy as the REST API (``web.operations``).
"""

from __future__ import annotations

from litestar_workflows.ui.config import DEFAULT_CONTENT_SECURITY_POLICY, UIConfig

__all__ = ("DEFAULT_CONTENT_SECURITY_POLICY", "UIConfig")
