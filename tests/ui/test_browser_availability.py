"""Without chromium the browser tests skip, saying why; under LSW_REQUIRE_SERVICES=1 they fail instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.browser import ROOT

pytestmark = pytest.mark.slow


def _run_browser_test(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "LSW_REQUIRE_SERVICES"}
    env.update(LSW_CHROMIUM=str(tmp_path / "no-such-chromium"), **environment)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/ui/test_browser_expense.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_chromium_skips_with_the_reason(tmp_path: Path) -> None:
    result = _run_browser_test(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "no chromium installed (apt-get install chromium)" in result.stdout


def test_missing_chromium_fails_when_services_are_required(tmp_path: Path) -> None:
    result = _run_browser_test(tmp_path, LSW_REQUIRE_SERVICES="1")
    assert result.returncode == 1, result.stdout
    assert "LSW_REQUIRE_SERVICES=1: no chromium installed" in result.stdout
