"""Refresh the JavaScript the UI ships (``make ui-vendor``): htmx and Mermaid, from the npm registry.

``litestar_workflows/ui/static/VENDORED.json`` says which package versions are vendored and which
of their files are copied where; this script packs each with ``npm pack`` into a temporary folder,
copies the files (each script with its package's licence) and writes their sha256 back into the
manifest, which ``tests/ui/test_vendored.py`` checks the shipped files against.

    python tools/vendor_ui.py                        # the versions in the manifest
    python tools/vendor_ui.py --set htmx.org=2.0.11  # another version of one package
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

__all__ = ("MANIFEST", "STATIC", "main", "sha256_of", "vendor")

STATIC = Path(__file__).resolve().parents[1] / "litestar_workflows" / "ui" / "static"
MANIFEST = STATIC / "VENDORED.json"


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _unpack(package: str, version: str, workdir: Path) -> Path:
    """``npm pack package@version`` into ``workdir``, unpacked; returns the package's root folder."""
    result = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--silent"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    tarball = workdir / result.stdout.strip().splitlines()[-1]
    target = workdir / package.replace("/", "_")
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


def vendor(manifest: dict[str, Any]) -> dict[str, Any]:
    """Copy every listed file of every package into ``STATIC``; returns the manifest with fresh sha256s."""
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        for package, entry in manifest["packages"].items():
            root = _unpack(package, entry["version"], workdir)
            for source, target in entry["files"].items():
                shutil.copyfile(root / source, STATIC / target)
                digests[target] = sha256_of(STATIC / target)
    return {**manifest, "sha256": dict(sorted(digests.items()))}


def main(argv: list[str] | None = None) -> int:
    """Parse ``--set package=version`` options, vendor, and rewrite the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="PACKAGE=VERSION")
    options = parser.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for setting in options.set:
        package, _, version = setting.partition("=")
        if package not in manifest["packages"] or not version:
            parser.error(f"--set {setting!r}: expected one of {', '.join(manifest['packages'])}=VERSION")
        manifest["packages"][package]["version"] = version
    updated = vendor(manifest)
    MANIFEST.write_text(json.dumps(updated, indent=2) + "\n", encoding="utf-8")
    for name, digest in updated["sha256"].items():
        print(f"{digest}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
