"""``make bench``: our engine against litestar-workflows 0.3.3 and DBOS, same machine, same run.

    python -m benchmarks.runner            # full: N=2,000 (in memory 20,000), median of 3 runs, 10,000 parked instances
    python -m benchmarks.runner --quick    # small N, one run: under 2 minutes once the peers are installed
    python -m benchmarks.runner --only w1,w4

Installs the peers into ``benchmarks/.peers/`` on first use, runs every workload on every system
(each run a fresh process), prints one table per workload with ratios against ours on the same
storage, and writes ``benchmarks/results/latest.json`` and ``benchmarks/results/<workload>.png``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
from typing import Any

from benchmarks import measure, report, w3
from benchmarks.measure import Settings, say
from benchmarks.peers import PEERS, ensure_all
from benchmarks.systems import ROOT, all_systems, postgres_reachable

FULL = Settings(
    n=2000,
    runs=3,
    concurrency=256,
    w3_clients=16,
    w3_duration=5,
    w3_warmup=1,
    memory_n=10_000,
    w4_n=2000,
    latency_n=300,
    in_memory_factor=10,
    in_memory_rounds=5,
)
QUICK = Settings(
    n=100,
    runs=1,
    concurrency=256,
    w3_clients=16,
    w3_duration=1.5,
    w3_warmup=0.5,
    memory_n=200,
    w4_n=100,
    latency_n=30,
)
WORKLOADS = ("w1", "latency", "w2", "w3", "w4", "memory")


class _TimedWorkloads(dict[str, Any]):
    """Stores each workload with the seconds since the previous one was stored (or since creation)."""

    def __init__(self) -> None:
        super().__init__()
        self._last = time.perf_counter()

    def __setitem__(self, key: str, value: Any) -> None:
        now = time.perf_counter()
        value["seconds"] = now - self._last
        self._last = now
        super().__setitem__(key, value)


def _commit() -> str:
    """The checkout measured: its commit, marked ``+changes`` when files differ from it."""

    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short=10", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def run(settings: Settings, only: tuple[str, ...], keys: tuple[str, ...] = ()) -> dict[str, Any]:
    postgres = postgres_reachable()
    systems = [system for system in all_systems(postgres) if not keys or system.key in keys]
    results: dict[str, Any] = {
        "settings": vars(settings),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "peers": {peer.name: list(peer.pins) for peer in PEERS},
        "postgres": postgres,
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "load_average": os.getloadavg(),
        "workloads": {},
    }
    workloads: dict[str, Any] = _TimedWorkloads()
    results["workloads"] = workloads
    pg_note = [] if postgres else ["PostgreSQL unreachable: its rows are missing"]
    in_memory = f" (in memory: N={settings.n * settings.in_memory_factor:,})" if settings.in_memory_factor != 1 else ""
    size = f"N={settings.n:,}{in_memory}, {settings.concurrency} in flight"
    if "w1" in only:
        say("W1")
        rows = measure.throughput("w1", systems, settings)
        workloads["w1"] = {"unit": "workflows/s", "size": size, "rows": rows, "notes": pg_note}
    if "latency" in only:
        say("Latency (W1, one workflow at a time)")
        rows = measure.latency(systems, settings)
        notes = [
            "median of the runs' mean milliseconds per workflow: start committed, three steps committed one "
            "after the other, completion seen by the caller",
            *pg_note,
        ]
        workloads["latency"] = {
            "unit": "ms per workflow",
            "size": f"N={settings.latency_n:,}"
            + (f" (in memory: {settings.latency_n * settings.in_memory_factor:,})" if in_memory else "")
            + ", one in flight",
            "rows": rows,
            "notes": notes,
        }
    if "w2" in only:
        say("W2")
        rows = measure.throughput("w2", systems, settings)
        notes = [
            "ours and 0.3.3: all N parked at their task before the approvals go out; DBOS: all N recorded "
            "their first step and are entering DBOS.recv",
            "0.3.3 never resumes an approved instance (stale entry in its _running map); the driver removes it",
        ]
        workloads["w2"] = {"unit": "workflows/s", "size": size, "rows": rows, "notes": notes + pg_note}
    if "w3" in only:
        http_systems = [system for system in systems if system.http_app]
        say("W3 (HTTP)")
        rows = w3.http(http_systems, settings)
        size3 = f"{settings.w3_clients} connections, {settings.w3_duration:g} s after {settings.w3_warmup:g} s warm-up"
        notes = [
            "requests/s answered inside the window, median of the runs; latencies, client and server CPU of the "
            "median run (CPU: share of one core); the approval scenario's latencies are the completion's",
            "vs bare: against the bare Litestar POST of the same app and server stack (the ceiling)",
            "0.3.3 only starts: its task endpoints read database rows its in-memory engine never writes",
        ]
        workloads["w3"] = {"unit": "requests/s", "size": size3, "rows": rows, "notes": notes + pg_note}
    if "w4" in only:
        say("W4")
        rows = measure.durability(systems, settings)
        notes = [
            "in-memory engines lose every instance with the process: expected, they are not durable",
            "steps run twice: a step's code ran again after the restart (at-least-once: expected for durable "
            "engines when the kill lands mid-step); recorded twice: a step's result stored twice (a bug)",
        ]
        workloads["w4"] = {"unit": "instances lost", "size": f"N={settings.w4_n:,}", "rows": rows, "notes": notes}
    if "memory" in only:
        say("Memory")
        rows = measure.memory(systems, settings)
        workloads["memory"] = {
            "unit": "KB per parked instance",
            "size": f"{settings.memory_n:,} instances parked",
            "rows": rows,
            "notes": ["KB per instance: growth of the resident set from 1 to N+1 parked instances, over N", *pg_note],
        }
    for key, workload in workloads.items():
        say(f"{key}: {workload['seconds']:.0f} s")
        if workload["unit"] != "instances lost":
            report.add_ratios(key, workload["rows"])
    return results


def _keep_other_systems(workloads: dict[str, Any], previous: dict[str, Any]) -> None:
    """Complete each workload measured for some systems with the other systems' rows of ``previous``."""
    for key, workload in workloads.items():
        if key not in previous:
            continue
        fresh = {_row_key(row): row for row in workload["rows"]}
        workload["rows"] = [fresh.pop(_row_key(row), row) for row in previous[key]["rows"]] + list(fresh.values())
        if workload["unit"] != "instances lost":
            report.add_ratios(key, workload["rows"])


def _row_key(row: dict[str, Any]) -> str:
    """A row's identity across runs: its system, and for W3 also its scenario and server stack."""
    return str(row.get("id", row["system"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, one run (under 2 minutes)")
    parser.add_argument("--only", default=",".join(WORKLOADS), help=f"comma-separated subset of {WORKLOADS}")
    parser.add_argument(
        "--systems",
        default="",
        help="comma-separated subset of the systems (e.g. ours-memory,lsw033-memory); their rows replace those "
        "of the last results",
    )
    args = parser.parse_args()
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    keys = tuple(key.strip() for key in args.systems.split(",") if key.strip())
    known = {system.key for system in all_systems(postgres=True)}
    if set(keys) - known:
        parser.error(f"unknown systems: {', '.join(sorted(set(keys) - known))}; known: {', '.join(sorted(known))}")
    # A terminated run still drops its PostgreSQL databases and stops its child processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.perf_counter()
    installed = ensure_all()
    if any(installed.values()):
        say("peers installed in " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in installed.items()))
    settings = QUICK if args.quick else FULL
    results = run(settings, only, keys)
    results["mode"] = "quick" if args.quick else "full"
    results["install_seconds"] = installed
    results["wall_seconds"] = time.perf_counter() - began
    print(report.render(results))
    folder = report.RESULTS / "quick" if args.quick else report.RESULTS
    path = folder / "latest.json"
    if (set(only) != set(WORKLOADS) or keys) and path.exists():
        # A partial run updates its workloads (or its systems' rows in them) in the last results.
        previous = json.loads(path.read_text())
        if previous.get("mode") == results["mode"]:
            if keys:
                _keep_other_systems(results["workloads"], previous["workloads"])
            merged = {**previous["workloads"], **results["workloads"]}
            order = list(report.TITLES)
            # Workloads this version no longer has (W3 was two tables before) are left out.
            results["workloads"] = {key: merged[key] for key in sorted(set(merged) & set(order), key=order.index)}
            update = {"workloads": list(only), "systems": list(keys), "at": results["started_at"]}
            update |= {"commit": results["commit"], "load_average": results["load_average"]}
            results["updated"] = [*previous.get("updated", []), update]
            # The top-level fields describe the run the other workloads come from.
            for field in ("started_at", "commit", "load_average"):
                results[field] = previous.get(field)
    report.write_json(results, path)
    charts = report.charts(results, folder)
    print(f"\nwrote {path} and {', '.join(str(chart) for chart in charts)}")
    print(f"wall time {results['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
