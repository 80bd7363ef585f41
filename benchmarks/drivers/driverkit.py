"""What every driver shares: arguments, bounded concurrency, RSS, the durability log, the result line.

Standard library only: the peers' drivers import this module from their own virtualenvs (it is
next to them on ``sys.path``), so it must not import anything of ours.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "
"""The line a driver prints last: this prefix, then one JSON object."""


def arguments(backends: tuple[str, ...]) -> argparse.Namespace:
    """The command line every driver accepts."""
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=["w1", "latency", "w2", "memory", "w4-run", "w4-check"])
    parser.add_argument("--backend", choices=backends, required=True)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--workdir", type=Path, default=Path.cwd(), help="where files (databases, logs) go")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL for the postgres backend")
    return parser.parse_args()


WARM_UP = 10
"""W1 workflows run one at a time before the latency workload's timed ones (connections, tables, caches)."""


async def one_at_a_time(w1: Callable[[int, int], Awaitable[dict[str, Any]]], n: int) -> dict[str, Any]:
    """The latency workload: ``w1(n, concurrency)`` with one in flight, after ``WARM_UP`` untimed ones."""
    await w1(WARM_UP, 1)
    return await w1(n, 1)


def emit(result: dict[str, Any]) -> None:
    """Hand the result to the runner (the last line of stdout)."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


async def bounded(items: int, concurrency: int, work: Callable[[int], Awaitable[Any]]) -> list[Any]:
    """Run ``work(i)`` for every i with at most ``concurrency`` in flight (like a busy server)."""
    results: list[Any] = [None] * items
    next_item = 0

    async def worker() -> None:
        nonlocal next_item
        while next_item < items:
            index = next_item
            next_item += 1
            results[index] = await work(index)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, items))))
    return results


class Stopwatch:
    """Wall time of a block, in seconds."""

    def __enter__(self) -> Stopwatch:
        self.began = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self.began


def rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``), after a full garbage collection."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def memory_result(baseline: int, parked: int, n: int) -> dict[str, float]:
    """The memory workload's result from the RSS before and after parking ``n`` instances."""
    return {
        "rss_mb": parked / 2**20,
        "per_instance_kb": (parked - baseline) / n / 1024,
        "baseline_mb": baseline / 2**20,
    }


class SideEffectLog:
    """W4's external record of step executions: one ``instance step`` line per run of a step.

    Lines go out with one ``write`` on an ``O_APPEND`` descriptor, so a SIGKILL never leaves half a
    line, and the runner can count finished instances (lines of the last step) while it waits.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def record(self, instance: str, step: str) -> None:
        os.write(self._fd, f"{instance} {step}\n".encode())


class AcknowledgedLog:
    """W4's list of instances whose start call returned (so the system promised to keep them)."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def record(self, instance: str) -> None:
        os.write(self._fd, f"{instance}\n".encode())


def acknowledged(workdir: Path) -> list[str]:
    """Instance ids the killed run acknowledged."""
    path = workdir / "acknowledged.txt"
    return path.read_text().split() if path.exists() else []


def side_effect_log(workdir: Path) -> SideEffectLog:
    return SideEffectLog(workdir / "steps.log")


def acknowledged_log(workdir: Path) -> AcknowledgedLog:
    return AcknowledgedLog(workdir / "acknowledged.txt")


def ready() -> None:
    """Tell the runner that set-up is over (it starts the W4 kill clock after this line)."""
    sys.stdout.write("BENCH-READY\n")
    sys.stdout.flush()
