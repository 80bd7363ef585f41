"""The peer libraries, each in its own virtualenv under ``benchmarks/.peers/`` (created on first use).

``litestar-workflows`` 0.3.3 has our import name, so it can only run in an interpreter of its
own; DBOS gets one too, so that none of its dependencies (SQLAlchemy 2.1, psycopg) touch ours.
Every package is pinned exactly; a stamp file holding the pins makes the set-up idempotent (a
changed pin rebuilds that virtualenv).

    python -m benchmarks.peers          # install (or check) every peer, print the interpreters
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
STAMP = ".bench-stamp"


@dataclass(frozen=True)
class Peer:
    """A peer library and the exact pins of its virtualenv."""

    name: str
    label: str
    pins: tuple[str, ...]

    @property
    def venv(self) -> Path:
        return PEERS_DIR / self.name

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def installed(self) -> bool:
        stamp = self.venv / STAMP
        return self.python.exists() and stamp.exists() and stamp.read_text() == "\n".join(self.pins)


LSW033 = Peer(
    "lsw033",
    "litestar-workflows 0.3.3",
    # the same Litestar and uvicorn (with both of W3's server stacks) as ours, so W3 compares the
    # workflow layers, not the web stack
    ("litestar-workflows==0.3.3", "litestar==2.25.0", "uvicorn==0.54.0", "uvloop==0.23.0", "httptools==0.9.0"),
)
DBOS = Peer("dbos", "DBOS 3.4.0", ("dbos==3.4.0",))
PEERS = (LSW033, DBOS)


def ensure(peer: Peer) -> float:
    """Create ``peer``'s virtualenv unless it is there with the same pins; seconds spent installing."""
    if peer.installed():
        return 0.0
    began = time.perf_counter()
    if peer.venv.exists():
        shutil.rmtree(peer.venv)
    # The interpreter running the benchmarks builds the peer's virtualenv: same Python for everyone.
    subprocess.run([sys.executable, "-m", "venv", str(peer.venv)], check=True)
    pip = [str(peer.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, *peer.pins], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"installing {peer.label} failed:\n{done.stdout}\n{done.stderr}")
    (peer.venv / STAMP).write_text("\n".join(peer.pins))
    return time.perf_counter() - began


def ensure_all() -> dict[str, float]:
    """Install every missing peer; seconds spent per peer (0 when it was already there)."""
    spent: dict[str, float] = {}
    for peer in PEERS:
        if not peer.installed():
            print(f"installing {peer.label} into {peer.venv} ({', '.join(peer.pins)})", flush=True)
        spent[peer.name] = ensure(peer)
    return spent


def main() -> None:
    spent = ensure_all()
    for peer in PEERS:
        print(f"{peer.label:<26} {peer.python}  (install: {spent[peer.name]:.0f} s)")


if __name__ == "__main__":
    main()
