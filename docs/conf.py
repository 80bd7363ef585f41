"""Sphinx configuration of the documentation site (``make docs``).

The build is offline: no intersphinx, no web fonts, Mermaid served from ``_static`` (see
``_static/vendor/mermaid/README.md``). ``-W`` turns every warning into an error.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The package and the examples (the REST reference is generated from examples/expense), and our
# own extensions in _ext.
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

from litestar_workflows import __version__  # noqa: E402  (needs the path above)

project = "litestar-workflows"
author = "litestar-workflows contributors"
copyright = "litestar-workflows contributors"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinxcontrib.mermaid",
    "lsw_docs",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_static", "_templates", "_ext", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
html_static_path = ["_static"]

# --- MyST ---------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]
myst_heading_anchors = 3  # "page.md#a-heading" links, as on GitHub
# ```mermaid fences render as diagrams (sphinxcontrib-mermaid's directive)
myst_fence_as_directive = ["mermaid"]

# --- autodoc ------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_typehints_format = "short"
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# --- Mermaid, offline ---------------------------------------------------------------------------
MERMAID_VERSION = "11.12.1"  # the vendored file's version (_static/vendor/mermaid)
mermaid_version = MERMAID_VERSION
mermaid_use_local = "vendor/mermaid/mermaid.mjs"
mermaid_include_elk = False
mermaid_include_zenuml = False
mermaid_d3_zoom = False

# --- HTML ---------------------------------------------------------------------------------------
html_theme = "shibuya"
html_title = f"litestar-workflows {release}"
html_theme_options: dict[str, Any] = {
    "accent_color": "amber",
    "github_url": "",
    "nav_links": [],
}
html_show_sourcelink = False
html_copy_source = False


def _classic_mermaid_script(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Load Mermaid's classic build (it sets ``globalThis.mermaid``) on pages that draw a diagram."""
    from sphinxcontrib.mermaid import mermaid

    if doctree is not None and doctree.next_node(mermaid) is not None:
        app.add_js_file("vendor/mermaid/mermaid.min.js", priority=400)


# shibuya.css declares a font for flag emoji on Windows that a browser would fetch from a CDN.
_REMOTE_FONT_FACE = re.compile(r"@font-face\{[^}]*src:url\(https?://[^}]*\}")


def _drop_remote_fonts(app: Sphinx, exception: BaseException | None) -> None:
    """Remove ``@font-face`` rules with a remote ``src`` from the theme's stylesheet (system fonts serve)."""
    stylesheet = Path(app.outdir) / "_static" / "shibuya.css"
    if exception is None and stylesheet.is_file():
        text = stylesheet.read_text(encoding="utf-8")
        stylesheet.write_text(_REMOTE_FONT_FACE.sub("", text), encoding="utf-8")


def _google_sections_outside_attributes(app: Sphinx) -> None:
    """Let napoleon read Args/Returns sections, but leave attribute and property docstrings as written.

    On an attribute, napoleon takes the first line's text before a colon as the attribute's type;
    this project's docstrings are sentences, often with a colon ("Seconds between ...: ...").
    """
    from sphinx.ext import napoleon

    listeners = app.events.listeners["autodoc-process-docstring"]
    for listener in [listener for listener in listeners if listener.handler is napoleon._process_docstring]:
        app.disconnect(listener.id)

    def process(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
        if what not in {"attribute", "property", "data"}:
            napoleon._process_docstring(app, what, name, obj, options, lines)

    app.connect("autodoc-process-docstring", process)


def setup(app: Sphinx) -> None:
    _google_sections_outside_attributes(app)
    app.connect("html-page-context", _classic_mermaid_script)
    app.connect("build-finished", _drop_remote_fonts)
