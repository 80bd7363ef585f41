"""The README's quick start, and the snippets of the docs, run as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(markdown: Path) -> list[str]:
    return PYTHON_BLOCK.findall(markdown.read_text(encoding="utf-8"))


def run_snippet(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
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


@pytest.mark.slow
@pytest.mark.parametrize("page", ["concepts.md", "durability.md", "upgrading.md", "authorization.md", "ui.md"])
def test_docs_snippets_run_in_order(page: str, tmp_path: Path) -> None:
    # Each page's snippets build on each other, so they run as one script.
    blocks = python_blocks(ROOT / "docs" / page)
    assert blocks
    result = run_snippet("\n\n".join(blocks), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
