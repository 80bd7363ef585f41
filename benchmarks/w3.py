"""W3: the REST API over HTTP on loopback, against a bare Litestar endpoint of the same server.

Every measurement is a fresh uvicorn process (one worker) with a fresh database, driven by
``benchmarks.loadgen`` in a process of its own (K keep-alive connections). Each scenario runs on
two server stacks: asyncio + h11 (what ``pip install uvicorn`` gives) and uvloop + httptools (the
``standard`` extra). The bare endpoints (``drivers/ceiling.py``) live in our benchmark app, so
the ceiling is measured in the same process kind, with the plugin loaded and its engine idle.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import PG_SETTLE_SECONDS, Settings, row_for, say
from benchmarks.systems import DRIVERS, ROOT, RunFailedError, System, parse_result, tail, workspace

__all__ = ["SCENARIO_LABELS", "STACKS", "ServerStack", "add_ratios", "http", "scenarios_for"]


@dataclass(frozen=True)
class ServerStack:
    """The event loop and HTTP parser uvicorn runs with."""

    key: str
    label: str
    loop: str
    parser: str
    modules: tuple[str, ...]
    """What the server's interpreter must import for this stack."""


STACKS = (
    ServerStack("asyncio-h11", "asyncio + h11", "asyncio", "h11", ()),
    ServerStack("uvloop-httptools", "uvloop + httptools", "uvloop", "httptools", ("uvloop", "httptools")),
)
SCENARIO_LABELS = {
    "bare": "bare POST (ceiling)",
    "bare-sqlite": "bare POST + SQLite insert",
    "start": "start W1 (3 machine steps)",
    "start-human": "start, first step a human task",
    "approve": "start, then complete its task",
}
CEILING_LABELS = {
    "bare": "Litestar alone, same app",
    "bare-sqlite": "Litestar + sqlite3, group commit",
}
MAIN_KIND = {"approve": "complete"}
"""The request kind whose latencies a scenario's table row shows (the others are in the JSON)."""


def scenarios_for(system: System) -> tuple[str, ...]:
    """What W3 measures on ``system``; the ceilings once, on our SQLite server."""
    if system.family != "ours":
        # 0.3.3's task endpoints need database rows its in-memory engine never writes.
        return ("start",)
    ceilings = ("bare", "bare-sqlite") if system.storage == "sqlite" else ()
    return (*ceilings, "start", "start-human", "approve")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _missing_modules(system: System, stack: ServerStack, known: dict[tuple[str, str], str]) -> str:
    """Why ``system``'s interpreter cannot run ``stack`` ("" when it can); asked once per pair."""
    if (system.key, stack.key) not in known:
        probe = f"import {', '.join(stack.modules)}" if stack.modules else "pass"
        done = subprocess.run([str(system.python), "-c", probe], capture_output=True, text=True, check=False)
        known[system.key, stack.key] = (
            f"{' and '.join(stack.modules)} not installed in {system.python}: "
            "pip install 'litestar-workflows[standard]' (make bench installs it)"
            if done.returncode
            else ""
        )
    return known[system.key, stack.key]


@contextlib.contextmanager
def _server(system: System, stack: ServerStack, workdir: Path, database_url: str) -> Iterator[tuple[str, int]]:
    """``system``'s REST API under uvicorn in its own process; yields the base URL and the server's pid."""
    assert system.http_app is not None
    port = _free_port()
    command = [str(system.python), "-m", "uvicorn", "--app-dir", str(DRIVERS), system.http_app]
    command += ["--host", "127.0.0.1", "--port", str(port), "--loop", stack.loop, "--http", stack.parser]
    command += ["--log-level", "warning", "--no-access-log"]
    env = system.environment({"LSW_BENCH_STORAGE": system.storage, "LSW_BENCH_DATABASE_URL": database_url})
    with (workdir / "server.err").open("wb") as err:
        server = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while True:  # uvicorn listens once the app's start-up (engine, database) is done
            if server.poll() is not None:
                raise RunFailedError(f"server exited:\n{tail((workdir / 'server.err').read_text())}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RunFailedError("server did not listen within 60 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _load(system: System, scenario: str, base: str, server_pid: int, settings: Settings) -> dict[str, Any]:
    """Run the load generator against ``base``; its result line."""
    command = [sys.executable, "-m", "benchmarks.loadgen", "--base", base, "--api", system.family]
    command += ["--scenario", scenario, "--clients", str(settings.w3_clients), "--server-pid", str(server_pid)]
    command += ["--duration", str(settings.w3_duration), "--warmup", str(settings.w3_warmup)]
    timeout = settings.w3_duration + settings.w3_warmup + 60
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as expired:
        raise RunFailedError(f"no result from the load generator after {timeout:.0f} s") from expired
    if done.returncode != 0:
        raise RunFailedError(f"load generator failed:\n{tail(done.stderr)}")
    return parse_result(done.stdout)


def _measure_once(system: System, scenario: str, stack: ServerStack, settings: Settings) -> dict[str, Any]:
    """One fresh server, one load run; raises :class:`RunFailedError` with the server's words on errors."""
    with workspace(system) as (workdir, database_url):
        with _server(system, stack, workdir, database_url) as (base, pid):
            result = _load(system, scenario, base, pid, settings)
        if result["totals"]["failed"]:  # read while the server's folder still exists
            raise RunFailedError(
                f"{result['totals']['failed']} failed requests, first: {result['first_error']}\n"
                f"server stderr:\n{tail((workdir / 'server.err').read_text())}"
            )
    if system.storage == "postgres":
        time.sleep(PG_SETTLE_SECONDS)
    return result


def _row(system: System, scenario: str, stack: ServerStack) -> dict[str, Any]:
    row = row_for(system) | {"scenario": scenario, "server": stack.key, "server_label": stack.label}
    row["id"] = f"{system.key}/{scenario}/{stack.key}"
    row["scenario_label"] = SCENARIO_LABELS[scenario]
    if scenario in CEILING_LABELS:
        row |= {"family": "bare", "label": CEILING_LABELS[scenario]}
    return row


def http(systems: list[System], settings: Settings) -> list[dict[str, Any]]:
    """W3 rows: requests/s (median of runs) with the median run's latencies and CPU, per scenario and stack."""
    cases = [(system, scenario, stack) for system in systems for scenario in scenarios_for(system) for stack in STACKS]
    results: dict[str, list[dict[str, Any]]] = {_row(*case)["id"]: [] for case in cases}
    errors: dict[str, str] = {}
    installed: dict[tuple[str, str], str] = {}
    for run in range(settings.runs):
        for system, scenario, stack in cases:
            key = _row(system, scenario, stack)["id"]
            errors.setdefault(key, _missing_modules(system, stack, installed))
            if errors[key]:
                continue
            try:
                result = _measure_once(system, scenario, stack, settings)
            except RunFailedError as failed:
                errors[key] = str(failed)
                say(f"  w3 {key:<42} FAILED\n{failed}")
                continue
            results[key].append(result)
            say(
                f"  w3 {key:<42} run {run + 1}/{settings.runs}: {result['throughput']:,.0f} req/s, "
                f"client CPU {result['client_cpu']:.0%}"
            )
    rows = []
    for case in cases:
        row = _row(*case)
        row |= {"error": errors.get(row["id"]) or None, "value": None, "runs": []}
        measured = sorted(results[row["id"]], key=lambda result: result["throughput"])
        if measured and not row["error"]:
            median = measured[len(measured) // 2]
            kind = MAIN_KIND.get(row["scenario"], next(iter(median["latency_ms"])))
            row |= {"value": statistics.median(result["throughput"] for result in measured)}
            row |= {key: median[key] for key in ("latency_ms", "client_cpu", "server_cpu", "client_loop")}
            row |= {"latency_kind": kind, "runs": [result["throughput"] for result in results[row["id"]]]}
        rows.append(row)
    # Each scenario's rows together (the ceiling first), so one storage reads against the other.
    order = list(SCENARIO_LABELS)
    return sorted(rows, key=lambda row: order.index(row["scenario"]))


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """``ceiling_ratio``: value / the bare POST on the same stack; ``ratio``: value / ours, same scenario,
    storage and stack (for the peers)."""
    bare = {row["server"]: row["value"] for row in rows if row["scenario"] == "bare"}
    ours = {(row["scenario"], row["storage"], row["server"]): row["value"] for row in rows if row["family"] == "ours"}
    for row in rows:
        ceiling = bare.get(row["server"])
        base = ours.get((row["scenario"], row["storage"], row["server"]))
        present = row["value"] is not None
        row["ceiling_ratio"] = row["value"] / ceiling if present and ceiling else None
        row["ratio"] = row["value"] / base if present and base and row["family"] not in {"ours", "bare"} else None
