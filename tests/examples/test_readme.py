"""The README's quick start, and the snippets of every documentation page, run as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
FENCE = re.compile(r"^( *)(`{3,}|~{3,})(\S*)", re.MULTILINE)
# Fences that are shown, not run: shell commands, config files, output, and MyST directives (the
# site renders them). Anything else, such as ```py or an indented ```python, would silently not run.
SHOWN = {"bash", "console", "ini", "text", "json", "mermaid"}
PAGES = sorted(path.name for path in DOCS.glob("*.md"))


def python_blocks(markdown: Path) -> list[str]:
    return PYTHON_BLOCK.findall(markdown.read_text(encoding="utf-8"))


def fence_kinds(markdown: Path) -> list[tuple[str, str]]:
    """(indentation, info) of every opening fence of a page."""
    kinds: list[tuple[str, str]] = []
    inside: str | None = None
    for indent, fence, info in FENCE.findall(markdown.read_text(encoding="utf-8")):
        if inside is None:
            kinds.append((indent, info))
            inside = fence
        elif fence == inside and not info:
            inside = None
    return kinds


def run_snippet(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_readme_has_a_short_quick_start() -> None:
    blocks = python_blocks(ROOT / "README.md")
    assert blocks, "README.md has no ```python block"
    assert len(blocks[0].strip().splitlines()) <= 22


@pytest.mark.slow
def test_readme_quick_start_runs(tmp_path: Path) -> None:
    quick_start = python_blocks(ROOT / "README.md")[0]
    result = run_snippet(quick_start, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == "completed {'amount': 120, 'submitted': True, 'approved': True}"


@pytest.mark.parametrize("page", PAGES)
def test_every_code_block_of_a_page_is_run_or_marked_as_shown(page: str) -> None:
    for indent, info in fence_kinds(DOCS / page):
        if info == "python":
            assert not indent, f"{page}: an indented ```python block would not run; move it out of the list"
        else:
            assert info in SHOWN or info.startswith("{"), f"{page}: ```{info} is neither run nor a known kind"


@pytest.mark.slow
@pytest.mark.parametrize("page", [page for page in PAGES if python_blocks(DOCS / page)])
def test_docs_snippets_run_in_order(page: str, tmp_path: Path) -> None:
    # Each page's snippets build on each other, so they run as one script, from a folder of their
    # own (files they write stay there) with the repository importable (pages use examples/).
    blocks = python_blocks(DOCS / page)
    code = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n\n" + "\n\n".join(blocks)
    result = run_snippet(code, tmp_path)
    assert result.returncode == 0, result.stderr
    # A page that builds a Litestar app gets Litestar's logging set up, so the engine's own log
    # records (a retried attempt's warning) reach stderr as they would in the reader's app.
    assert _without_engine_logs(result.stderr) == ""


ENGINE_LOG_LINE = re.compile(r"^(INFO|WARNING) - [^\n]* - litestar_workflows\.[^\n]*\n", re.MULTILINE)


def _without_engine_logs(stderr: str) -> str:
    return ENGINE_LOG_LINE.sub("", stderr)


def test_the_pages_with_snippets_include_the_guides() -> None:
    # A guard against the parametrization above quietly shrinking (a renamed folder, a bad glob).
    with_snippets = {page for page in PAGES if python_blocks(DOCS / page)}
    assert {"concepts.md", "durability.md", "upgrading.md", "quickstart.md", "writing-steps.md"} <= with_snippets
