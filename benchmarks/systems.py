"""The systems under test, and how to run one of their drivers in a fresh process.

Every run is a new interpreter with a new working directory (SQLite files, W4 logs) and, on
PostgreSQL, a new database that is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.peers import DBOS, LSW033

ROOT = Path(__file__).resolve().parent.parent
DRIVERS = ROOT / "benchmarks" / "drivers"
RESULT_PREFIX = "BENCH-RESULT "
PG_ADMIN_DSN = os.environ.get("LSW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
STORAGE_LABELS = {"memory": "in memory", "sqlite": "SQLite file", "postgres": "PostgreSQL"}


class RunFailedError(RuntimeError):
    """A driver process failed; the message ends with its stderr."""


@dataclass(frozen=True)
class System:
    """One library on one kind of storage."""

    family: str
    """``ours``, ``lsw033`` or ``dbos``."""
    storage: str
    """``memory``, ``sqlite`` or ``postgres``."""
    family_label: str
    python: Path
    driver: Path
    http_app: str | None = None
    """``module:app`` under ``benchmarks/drivers`` serving its REST API (W3), if it has one."""

    @property
    def key(self) -> str:
        return f"{self.family}-{self.storage}"

    @property
    def label(self) -> str:
        # Each library on SQLite as it configures it: ours switches to WAL, DBOS keeps the rollback journal.
        journal = (
            {"ours": " (WAL)", "dbos": " (rollback journal)"}.get(self.family, "") if self.storage == "sqlite" else ""
        )
        return f"{self.family_label}, {STORAGE_LABELS[self.storage]}{journal}"

    @property
    def durable(self) -> bool:
        return self.storage != "memory"

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
        env["PYTHONUNBUFFERED"] = "1"
        if self.family == "ours":
            env["PYTHONPATH"] = str(ROOT)
        env.update(extra or {})
        return env

    def command(self, workload: str, n: int, concurrency: int, workdir: Path, database_url: str) -> list[str]:
        return [
            str(self.python),
            str(self.driver),
            workload,
            "--backend",
            self.storage,
            "--n",
            str(n),
            "--concurrency",
            str(concurrency),
            "--workdir",
            str(workdir),
            "--database-url",
            database_url,
        ]


def all_systems(postgres: bool) -> list[System]:
    """Every system of the comparison; the PostgreSQL ones only when the server is reachable."""
    ours_python = Path(sys.executable)
    storages = ("memory", "sqlite", "postgres") if postgres else ("memory", "sqlite")
    systems = [
        System("ours", storage, "ours", ours_python, DRIVERS / "ours.py", "ours_http:app") for storage in storages
    ]
    systems.append(System("lsw033", "memory", LSW033.label, LSW033.python, DRIVERS / "lsw033.py", "lsw033_http:app"))
    systems += [
        System("dbos", storage, DBOS.label, DBOS.python, DRIVERS / "dbos_driver.py")
        for storage in storages
        if storage != "memory"
    ]
    return systems


def parse_result(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line.removeprefix(RESULT_PREFIX))
            return result
    raise RunFailedError("no result line")


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_driver(
    system: System, workload: str, n: int, concurrency: int, workdir: Path, database_url: str, timeout: float
) -> dict[str, Any]:
    """Run one workload in a new process of ``system``'s interpreter; its result."""
    command = system.command(workload, n, concurrency, workdir, database_url)
    try:
        done = subprocess.run(
            command, cwd=workdir, env=system.environment(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as timed_out:
        raise RunFailedError(f"{system.key} {workload}: no result after {timeout:.0f} s") from timed_out
    if done.returncode != 0:
        raise RunFailedError(f"{system.key} {workload} exited with {done.returncode}:\n{tail(done.stderr)}")
    return parse_result(done.stdout)


# --- PostgreSQL ----------------------------------------------------------------------------------


def _admin(statement: str) -> None:
    import asyncpg

    async def execute() -> None:
        connection = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_DSN), 5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute())


def postgres_reachable() -> bool:
    try:
        _admin("SELECT 1")
    except Exception:
        return False
    return True


def database_urls(system: System, name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    if system.family == "ours":
        return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    return f"{base}/{name}"


@contextlib.contextmanager
def workspace(system: System) -> Iterator[tuple[Path, str]]:
    """A fresh working directory and, on PostgreSQL, a fresh database URL (dropped afterwards)."""
    with tempfile.TemporaryDirectory(prefix=f"lsw-bench-{system.key}-") as folder:
        if system.storage != "postgres":
            yield Path(folder), ""
            return
        name = f"lsw_bench_{system.family}_{uuid.uuid4().hex[:8]}"
        _admin(f'CREATE DATABASE "{name}"')
        try:
            yield Path(folder), database_urls(system, name)
        finally:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
