"""The version users see (``litestar_workflows.__version__``) is the one pip installs."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import litestar_workflows

ROOT = Path(__file__).resolve().parents[2]


def test_version_matches_pyproject_and_installed_metadata() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert litestar_workflows.__version__ == declared
    assert importlib.metadata.version("litestar-workflows") == declared


def test_version_sorts_after_the_03_series_it_replaces() -> None:
    # ``pip install -U`` must pick this package over litestar-workflows 0.3.x from PyPI.
    major, minor, *_ = (int(part) for part in litestar_workflows.__version__.split("."))
    assert (major, minor) > (0, 3)
