"""Instructions and L1 data-cache misses per in-memory workflow, ours against litestar-workflows 0.3.3.

    python -m benchmarks.instructions [--workload w1] [--n 20000]

Counted by valgrind's cachegrind, which simulates the processor: the counts are the same from
one run to the next whatever else the machine does, so they show differences of a few percent
that wall-clock runs on a shared machine cannot. Each system runs its driver twice, with N and
with 2N workflows; the difference divided by N is the cost of one workflow, without the start-up
(interpreter, imports). Takes about two minutes per system (cachegrind runs code ~50x slower).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.peers import LSW033, ensure
from benchmarks.systems import System, all_systems

__all__ = ("main",)

_EVENTS = ("Ir", "D1mr", "D1mw")


def _counts(system: System, workload: str, n: int, folder: Path) -> dict[str, int]:
    """Whole-process cachegrind totals of one driver run."""
    out = folder / f"{system.key}-{n}.cachegrind"
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=yes",
        f"--cachegrind-out-file={out}",
        *system.command(workload, n, 256, folder, ""),
    ]
    done = subprocess.run(command, cwd=folder, env=system.environment(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{system.key} under cachegrind exited with {done.returncode}:\n{done.stderr[-2000:]}")
    events: list[str] = []
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            return dict(zip(events, (int(value) for value in line.split()[1:]), strict=True))
    raise SystemExit(f"no summary in {out}")


def _per_workflow(system: System, workload: str, n: int) -> dict[str, float]:
    # The two sizes run at once, one per core.
    with tempfile.TemporaryDirectory(prefix="lsw-cachegrind-") as folder, ThreadPoolExecutor(max_workers=2) as pool:
        small, large = pool.map(lambda size: _counts(system, workload, size, Path(folder)), (n, 2 * n))
    return {event: (large[event] - small[event]) / n for event in _EVENTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=["w1", "w2"], default="w1")
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (apt install valgrind)")
    ensure(LSW033)
    systems = {system.key: system for system in all_systems(postgres=False)}
    print(f"{args.workload} in memory, 256 in flight; per workflow (runs of {args.n:,} and {2 * args.n:,} workflows)")
    print(f"{'system':<36} {'instructions':>13} {'L1 data misses':>15}")
    for key in ("ours-memory", "lsw033-memory"):
        system = systems[key]
        cost = _per_workflow(system, args.workload, args.n)
        print(f"{system.label:<36} {cost['Ir']:>13,.0f} {cost['D1mr'] + cost['D1mw']:>15,.0f}")


if __name__ == "__main__":
    main()
