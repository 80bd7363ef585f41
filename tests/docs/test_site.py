"""The documentation site: it builds with no warning, loads nothing from other hosts, documents
every public name, and its generated pages (REST API, CLI) match the code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

import litestar_workflows
from litestar_workflows.cli import workflows_group

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `make docs` builds it (warnings are errors), into a folder of this run."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html", str(DOCS), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return out


class _Resources(HTMLParser):
    """Every URL a browser fetches to show a page (not the links a reader may follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_module = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "audio", "video", "embed"} and values.get("src"):
            self.urls.append(str(values["src"]))
        if tag == "link" and values.get("href") and values.get("rel") != "canonical":
            self.urls.append(str(values["href"]))  # stylesheets, icons, preconnects, preloads
        self._in_module = tag == "script" and not values.get("src")

    def handle_data(self, data: str) -> None:
        if self._in_module:  # inline scripts: what they import
            self.urls += re.findall(r"""import\s+\w+\s+from\s+["']([^"']+)["']""", data)

    def handle_endtag(self, tag: str) -> None:
        self._in_module = False


def _remote(url: str) -> bool:
    return url.startswith(("http:", "https:", "//"))


def _inventory(site: Path) -> set[str]:
    """The names objects.inv lists, as ``domain:role name``."""
    raw = (site / "objects.inv").read_bytes()
    body = zlib.decompress(raw.split(b"\n", 4)[4]).decode()
    names = set()
    for line in body.splitlines():
        name, role = line.split(" ", 2)[:2]
        names.add(f"{role} {name}")
    return names


def test_every_page_is_built(site: Path) -> None:
    for page in DOCS.glob("*.md"):
        assert (site / f"{page.stem}.html").is_file(), page.name


def test_pages_load_nothing_from_other_hosts(site: Path) -> None:
    fetched: dict[str, list[str]] = {}
    for page in site.rglob("*.html"):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        remote = [url for url in parser.urls if _remote(url)]
        if remote:
            fetched[page.name] = remote
    for stylesheet in site.rglob("*.css"):
        text = stylesheet.read_text(encoding="utf-8")
        remote = [url for url in re.findall(r"""(?:url\(|@import\s+)["']?([^"')\s]+)""", text) if _remote(url)]
        if remote:
            fetched[stylesheet.name] = remote
    assert fetched == {}


def test_diagrams_use_the_vendored_mermaid(site: Path) -> None:
    page = (site / "writing-steps.html").read_text(encoding="utf-8")
    assert 'class="mermaid"' in page
    parser = _Resources()
    parser.feed(page)
    urls = [url.split("?")[0] for url in parser.urls]  # without Sphinx's cache-busting ?v=...
    # the classic build runs first (a plain script), then the module that imports what it defined
    assert urls.index("_static/vendor/mermaid/mermaid.min.js") < urls.index("./_static/vendor/mermaid/mermaid.mjs")
    assert (site / "_static/vendor/mermaid/mermaid.min.js").stat().st_size > 1_000_000
    # pages without a diagram do not load the 2.7 MB library
    assert "mermaid.min.js" not in (site / "installation.html").read_text(encoding="utf-8")


def test_the_api_reference_documents_every_public_name(site: Path) -> None:
    documented = {entry.split(" ", 1)[1] for entry in _inventory(site) if entry.startswith("py:")}
    missing = [name for name in litestar_workflows.__all__ if f"litestar_workflows.{name}" not in documented]
    assert missing == []


# The document as a fresh process of the expense app generates it: Litestar's schema generation
# keeps state per process (a generic such as OffsetPagination[X] built earlier by other code is
# emitted as a component rather than inline), so this test process, with the rest of the suite
# imported, is not a fair comparison.
_APP_SCHEMA = """
import json
from examples.expense.app import create_app
from litestar_workflows import InMemoryPersistence
print(json.dumps(create_app(InMemoryPersistence()).openapi_schema.to_schema()))
"""


def test_the_published_openapi_document_is_the_example_apps(site: Path) -> None:
    generated = subprocess.run(
        [sys.executable, "-c", _APP_SCHEMA], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    expected = json.loads(generated.stdout)
    assert json.loads((site / "openapi.json").read_text(encoding="utf-8")) == expected
    page = (site / "rest-api.html").read_text(encoding="utf-8")
    assert 'href="openapi.json"' in page
    for path, item in expected["paths"].items():
        for method in item:
            assert f"{method.upper()} <code" in page and path in page, (method, path)
    for name in expected["components"]["schemas"]:
        assert f'id="{name.lower()}"' in page, name


def test_the_cli_page_shows_every_command(site: Path) -> None:
    page = (site / "cli.html").read_text(encoding="utf-8")
    for name, command in workflows_group.commands.items():
        assert f"Usage: litestar workflows {name}" in page
        assert (command.short_help or command.get_short_help_str()).split(".")[0] in page
