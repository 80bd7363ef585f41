"""Ours against ours: this checkout against an earlier commit, runs alternating, ratio per pair.

    python -m benchmarks.versus [--base dc09fa8] [--rounds 7] [--workloads w1,w2,latency]
                                [--storages sqlite,postgres] [--n 2000]

Answers "did this change make a durable row slower?". The earlier commit is checked out once
into a git worktree (``benchmarks/.versus/<commit>``, reused) and both run their own
``benchmarks/drivers/ours.py`` with this interpreter, each in a fresh process and, on
PostgreSQL, a fresh database. Durable runs share the disk, so they cannot run at the same
moment (``benchmarks.paired`` does that for in-memory rows); instead each round runs the two
back to back, in an order that alternates from round to round, and takes the ratio of their
rates. Adjacent runs see nearly the same machine, so the drift of a shared two-core machine
(10-30 % between seconds) mostly cancels out of each ratio; the median of the rounds is
printed with its middle half. For ``latency`` the rate is workflows per second one at a time,
so a ratio above 1 means this checkout is faster there too.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
from pathlib import Path

from benchmarks.systems import ROOT, System, all_systems, postgres_reachable, run_driver, workspace

__all__ = ("main",)

WORKTREES = ROOT / "benchmarks" / ".versus"


def _checkout(commit: str) -> Path:
    """A worktree of ``commit`` (created on first use, then reused)."""
    resolved = subprocess.run(
        ["git", "rev-parse", "--short=10", commit], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = WORKTREES / resolved
    if not (folder / "benchmarks" / "drivers" / "ours.py").exists():
        WORKTREES.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(folder), resolved], cwd=ROOT, check=True)
    return folder


class _Rooted(System):
    """``System`` whose ``PYTHONPATH`` is another checkout (its driver imports that checkout's package)."""

    root: Path = ROOT

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = super().environment(extra)
        env["PYTHONPATH"] = str(self.root)
        return env


def _system_at(system: System, root: Path) -> System:
    """``system`` as the checkout at ``root`` runs it (its driver, its package)."""
    fields = {name: getattr(system, name) for name in System.__dataclass_fields__}
    fields["driver"] = root / "benchmarks" / "drivers" / "ours.py"
    rooted = _Rooted(**fields)
    object.__setattr__(rooted, "root", root)  # a frozen dataclass: set once, here
    return rooted


def _rate(system: System, workload: str, n: int, concurrency: int) -> float:
    with workspace(system) as (workdir, database_url):
        result = run_driver(system, workload, n, concurrency, workdir, database_url, timeout=900)
    return float(result["throughput"])


def _compare(new: System, old: System, workload: str, n: int, concurrency: int, rounds: int) -> list[float]:
    ratios: list[float] = []
    for round_number in range(rounds):
        order = (new, old) if round_number % 2 == 0 else (old, new)
        rates = {system.driver: _rate(system, workload, n, concurrency) for system in order}
        new_rate, old_rate = rates[new.driver], rates[old.driver]
        ratios.append(new_rate / old_rate)
        print(
            f"    round {round_number + 1:>2}: this {new_rate:>9,.1f}/s  base {old_rate:>9,.1f}/s"
            f"  ratio {ratios[-1]:.3f}",
            flush=True,
        )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="dc09fa8", help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workloads", default="w1,w2,latency")
    parser.add_argument("--storages", default="sqlite,postgres")
    parser.add_argument("--n", type=int, default=2000, help="workflows per run (latency: a tenth)")
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    storages = [storage for storage in args.storages.split(",") if storage]
    if "postgres" in storages and not postgres_reachable():
        print("PostgreSQL unreachable: its rows are left out")
        storages.remove("postgres")
    base_root = _checkout(args.base)
    systems = {system.storage: system for system in all_systems(postgres=True) if system.family == "ours"}
    summary: list[str] = []
    for storage in storages:
        new = systems[storage]
        old = _system_at(new, base_root)
        for workload in args.workloads.split(","):
            n = max(args.n // 10, 30) if workload == "latency" else args.n
            print(f"{workload} on {storage}, N={n:,}: this checkout / {args.base}", flush=True)
            ratios = _compare(new, old, workload, n, args.concurrency, args.rounds)
            quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
            summary.append(
                f"{workload:>8} {storage:>9}: median {statistics.median(ratios):.3f}"
                f" (middle half {quartiles[0]:.3f} to {quartiles[2]:.3f}, {len(ratios)} rounds)"
            )
    print("\nthis checkout / base (above 1: faster)")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
