"""The UI's static files: every third-party file is the one ``make ui-vendor`` fetched, with its licence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from litestar_workflows.ui.rendering import STATIC_DIR
from tools.vendor_ui import MANIFEST, STATIC, sha256_of

VENDORED = json.loads(MANIFEST.read_text(encoding="utf-8"))


def test_the_tool_and_the_package_agree_on_the_folder() -> None:
    assert STATIC == STATIC_DIR


def test_vendored_files_match_their_recorded_sha256() -> None:
    targets = {target for entry in VENDORED["packages"].values() for target in entry["files"].values()}
    assert set(VENDORED["sha256"]) == targets
    for name, digest in VENDORED["sha256"].items():
        assert sha256_of(STATIC / name) == digest, f"{name} differs from what make ui-vendor fetched"
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest


def test_every_vendored_script_ships_with_its_licence() -> None:
    for package, entry in VENDORED["packages"].items():
        scripts = [target for target in entry["files"].values() if target.endswith(".js")]
        licences = [target for target in entry["files"].values() if "LICENSE" in target]
        assert scripts and licences, package
        assert all((STATIC / licence).read_text(encoding="utf-8").strip() for licence in licences)


def test_every_static_file_is_vendored_or_our_own() -> None:
    vendored = set(VENDORED["sha256"])
    own = set(VENDORED["own"])
    present = {path.name for path in STATIC.iterdir() if path.is_file()}
    assert present == vendored | own
    assert not vendored & own


def test_pages_load_no_script_from_elsewhere() -> None:
    templates = Path(STATIC_DIR).parent / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, template.name
        assert "<style" not in text and " style=" not in text and " on" + "click=" not in text, template.name
