"""How each workload is measured across systems: runs, medians, kills (W3, over HTTP, is in ``w3.py``)."""

from __future__ import annotations

import collections
import dataclasses
import os
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.systems import RunFailedError, System, run_driver, tail, workspace

TIMEOUT = 1800.0
"""Longest a single driver run may take (a DBOS memory run of 10,000 instances takes minutes)."""
PG_SETTLE_SECONDS = 2.0
"""Pause after a PostgreSQL run: dropping its database keeps the server busy for a moment, which
would otherwise slow down whichever system runs next."""


@dataclass(frozen=True)
class Settings:
    """Sizes of one benchmark session (full or quick)."""

    n: int
    runs: int
    concurrency: int
    w3_clients: int
    w3_duration: float
    w3_warmup: float
    memory_n: int
    w4_n: int
    latency_n: int
    """W1 workflows run one at a time for the latency figure."""
    in_memory_factor: int = 1
    """In-memory systems run ``in_memory_factor`` times as many workflows in W1, W2 and latency: at
    N=2,000 they finish in under 100 ms, a window in which a scheduler hiccup moves the figure by
    a third."""

    in_memory_rounds: int = 1
    """Runs of each in-memory system per run, taken in turn (see :func:`throughput`)."""

    def size_for(self, system: System, n: int) -> int:
        return n * self.in_memory_factor if system.storage == "memory" else n


def say(message: str) -> None:
    print(message, flush=True)


def row_for(system: System) -> dict[str, Any]:
    return {"system": system.key, "family": system.family, "storage": system.storage, "label": system.label}


# --- W1, W2: throughput, median of runs ----------------------------------------------------------


def throughput(workload: str, systems: list[System], settings: Settings) -> list[dict[str, Any]]:
    """Median workflows/s of ``workload`` per system; runs are interleaved so all see the same load.

    In-memory systems run ``in_memory_rounds`` times per run, one after the other in turn (ours,
    0.3.3, ours, ...): their runs last about a second, and this machine's speed drifts by a third
    from one second to the next, so only many pairs taken side by side compare them fairly.
    """
    runs: dict[str, list[float]] = {system.key: [] for system in systems}
    errors: dict[str, str] = {}
    in_memory = [system for system in systems if system.storage == "memory"]
    for run in range(settings.runs):
        # Each run starts at another system, so none always follows the same neighbour.
        for system in systems[run % len(systems) :] + systems[: run % len(systems)]:
            if system.storage != "memory":
                _measure(workload, system, settings, run, runs, errors)
            elif system is in_memory[0]:
                for _ in range(settings.in_memory_rounds):
                    for each in in_memory:
                        _measure(workload, each, settings, run, runs, errors)
    rows = []
    for system in systems:
        row = row_for(system) | {"runs": runs[system.key], "error": errors.get(system.key)}
        row["value"] = statistics.median(runs[system.key]) if runs[system.key] and not row["error"] else None
        rows.append(row)
    return rows


def _measure(
    workload: str,
    system: System,
    settings: Settings,
    run: int,
    runs: dict[str, list[float]],
    errors: dict[str, str],
) -> None:
    """One run of ``workload`` on ``system``: its throughput goes into ``runs``, a failure into ``errors``."""
    if system.key in errors:
        return
    with workspace(system) as (workdir, url):
        try:
            n = settings.size_for(system, settings.n)
            result = run_driver(system, workload, n, settings.concurrency, workdir, url, TIMEOUT)
        except RunFailedError as failed:
            errors[system.key] = str(failed)
            say(f"  {workload} {system.key:<16} run {run + 1}/{settings.runs}: FAILED\n{failed}")
            return
    if system.storage == "postgres":
        time.sleep(PG_SETTLE_SECONDS)
    runs[system.key].append(result["throughput"])
    say(f"  {workload} {system.key:<16} run {run + 1}/{settings.runs}: {result['throughput']:,.0f} workflows/s")


def latency(systems: list[System], settings: Settings) -> list[dict[str, Any]]:
    """Median milliseconds per W1 workflow run one at a time (start, three steps, finished)."""
    sequential = dataclasses.replace(settings, n=settings.latency_n, concurrency=1)
    rows = throughput("latency", systems, sequential)
    for row in rows:
        row["runs"] = [1000 / value for value in row["runs"]]
        row["value"] = statistics.median(row["runs"]) if row["value"] is not None else None
    return rows


# --- memory ----------------------------------------------------------------------------------------


def memory(systems: list[System], settings: Settings) -> list[dict[str, Any]]:
    """Resident set of ``memory_n`` instances parked on a human task, per system (one run each)."""
    rows = []
    for system in systems:
        row = row_for(system) | {"error": None, "value": None}
        with workspace(system) as (workdir, url):
            try:
                result = run_driver(system, "memory", settings.memory_n, settings.concurrency, workdir, url, TIMEOUT)
            except RunFailedError as failed:
                row["error"] = str(failed)
                say(f"  memory {system.key:<16} FAILED\n{failed}")
                rows.append(row)
                continue
        row |= {"value": result["per_instance_kb"], "rss_mb": result["rss_mb"], "baseline_mb": result["baseline_mb"]}
        say(
            f"  memory {system.key:<16} {result['rss_mb']:.0f} MB resident with {settings.memory_n:,} parked"
            f" ({result['per_instance_kb']:.1f} KB per instance)"
        )
        rows.append(row)
    return rows


# --- W4: SIGKILL halfway, restart, count ---------------------------------------------------------


def _wait_for_line(path: Path, line: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and line in path.read_text():
            return
        if process.poll() is not None:
            raise RunFailedError(f"exited with {process.returncode} before {line!r}")
        time.sleep(0.01)
    raise RunFailedError(f"no {line!r} after {timeout:.0f} s")


def _kill_halfway(system: System, settings: Settings, workdir: Path, url: str) -> dict[str, Any]:
    """Run W1 with logging; SIGKILL the process once half of all its step runs (3N/2) are logged."""
    stdout, stderr = workdir / "run.out", workdir / "run.err"
    command = system.command("w4-run", settings.w4_n, settings.concurrency, workdir, url)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=workdir, env=system.environment(), stdout=out, stderr=err)
    try:
        _wait_for_line(stdout, "BENCH-READY", process, 120)
        log, offset, steps, finished = workdir / "steps.log", 0, 0, 0
        deadline = time.monotonic() + TIMEOUT
        while steps < 3 * settings.w4_n // 2:
            if process.poll() is not None:
                raise RunFailedError(f"exited with {process.returncode} before the kill:\n{tail(stderr.read_text())}")
            if time.monotonic() > deadline:
                raise RunFailedError("never got halfway")
            if log.exists():
                with log.open("rb") as lines:
                    lines.seek(offset)
                    chunk = lines.read()
                complete = chunk[: chunk.rfind(b"\n") + 1]
                offset += len(complete)
                steps += complete.count(b"\n")
                finished += complete.count(b" c\n")
            time.sleep(0.001)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    acknowledged = workdir / "acknowledged.txt"
    count = len(acknowledged.read_text().split()) if acknowledged.exists() else 0
    return {"finished_before_kill": finished, "acknowledged": count}


def durability(systems: list[System], settings: Settings) -> list[dict[str, Any]]:
    """W4 per system: instances lost and steps run or recorded twice after a SIGKILL and a restart."""
    rows = []
    for system in systems:
        row = row_for(system) | {"error": None, "value": None, "n": settings.w4_n}
        with workspace(system) as (workdir, url):
            try:
                killed = _kill_halfway(system, settings, workdir, url)
                checked = run_driver(system, "w4-check", settings.w4_n, settings.concurrency, workdir, url, TIMEOUT)
            except RunFailedError as failed:
                row["error"] = f"{system.key} w4: {failed}"
                say(f"  w4 {system.key:<16} FAILED\n{failed}")
                rows.append(row)
                continue
            runs = collections.Counter((workdir / "steps.log").read_text().splitlines())
        row |= {
            "acknowledged": checked["acknowledged"],
            "finished_before_kill": killed["finished_before_kill"],
            "lost": checked["lost"],
            "unfinished": checked["unfinished"],
            "ran_twice": sum(1 for count in runs.values() if count > 1),
            "recorded_twice": checked["recorded_twice"],
            "recovery_seconds": checked["recovery_seconds"],
        }
        row["value"] = row["lost"] + row["unfinished"]
        say(
            f"  w4 {system.key:<16} acknowledged {row['acknowledged']}, lost {row['lost']},"
            f" unfinished {row['unfinished']}, steps run twice {row['ran_twice']},"
            f" recorded twice {row['recorded_twice']}"
        )
        rows.append(row)
    return rows
