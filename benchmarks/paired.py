"""In-memory W1, ours against litestar-workflows 0.3.3, both running at the same time.

    python -m benchmarks.paired [--rounds 15] [--n 20000] [--workload w1]

On a shared two-core machine the speed of the machine drifts by 10-30 % from one second to the
next, more than the difference being measured; runs taken one after the other (``make bench``)
compare systems measured at different moments. Here each round starts both drivers together,
each pinned to a core of its own (they swap cores every round, in case the cores differ), so
both see the same moment of the machine. Each round gives one ratio ours / 0.3.3; the median
of the rounds is printed. In-memory systems only: the durable ones would share the disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from benchmarks.peers import LSW033, ensure
from benchmarks.systems import System, all_systems, parse_result

__all__ = ("main",)


def _start(system: System, workload: str, n: int, concurrency: int, core: int, workdir: Path) -> subprocess.Popen[str]:
    command = system.command(workload, n, concurrency, workdir, "")
    return subprocess.Popen(
        command,
        cwd=workdir,
        env=system.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}),  # noqa: PLW1509 - runs before exec, no threads yet
    )


def _throughput(process: subprocess.Popen[str], name: str) -> float:
    stdout, stderr = process.communicate(timeout=600)
    if process.returncode != 0:
        raise SystemExit(f"{name} exited with {process.returncode}:\n{stderr[-2000:]}")
    return float(parse_result(stdout)["throughput"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--workload", choices=["w1", "w2"], default="w1")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("needs two cores: one per system")
    ensure(LSW033)
    systems = {system.key: system for system in all_systems(postgres=False)}
    ours, peer = systems["ours-memory"], systems["lsw033-memory"]
    ratios: list[float] = []
    print(f"{args.workload} in memory, N={args.n:,}, {args.concurrency} in flight; both at once, one core each")
    for round_number in range(args.rounds):
        ours_core, peer_core = (cores[0], cores[1]) if round_number % 2 == 0 else (cores[1], cores[0])
        with tempfile.TemporaryDirectory() as ours_dir, tempfile.TemporaryDirectory() as peer_dir:
            ours_process = _start(ours, args.workload, args.n, args.concurrency, ours_core, Path(ours_dir))
            peer_process = _start(peer, args.workload, args.n, args.concurrency, peer_core, Path(peer_dir))
            ours_rate = _throughput(ours_process, ours.key)
            peer_rate = _throughput(peer_process, peer.key)
        ratios.append(ours_rate / peer_rate)
        print(
            f"  round {round_number + 1:>2}: ours {ours_rate:>9,.0f}/s  0.3.3 {peer_rate:>9,.0f}/s"
            f"  ratio {ratios[-1]:.3f}"
        )
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(
        f"ours / 0.3.3: median {statistics.median(ratios):.3f}"
        f" (middle half {quartiles[0]:.3f} to {quartiles[2]:.3f}, {len(ratios)} rounds)"
    )


if __name__ == "__main__":
    main()
