"""Several processes starting at the same moment on one fresh (or upgraded) database all come up.

Each trial starts five real processes, lets them import everything, then releases them at once:
each creates the tables, records the definitions and runs an instance. Before start-ups were
serialised, ``create_all`` and the definition inserts raced (duplicate tables or types, unique
violations) and some processes crashed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import PG_ADMIN_DSN, _pg

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 5


def _fresh_databases(kind: str, tmp_path: Path, count: int) -> Iterator[str]:
    """``count`` empty databases of ``kind`` (dropped afterwards by the caller's ``finally``)."""
    for trial in range(count):
        if kind == "sqlite":
            yield f"sqlite+aiosqlite:///{tmp_path / f'startup-{trial}.sqlite3'}"
            continue
        name = f"lsw_startup_{uuid.uuid4().hex[:10]}"
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        try:
            yield f"{base}/{name}"
        finally:
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _start_together(url: str, versions: str) -> list[tuple[int, str]]:
    """Start ``PROCESSES`` workers, release them at the same moment, return (exit code, output) of each."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.durability.startup_worker", "--url", url, "--versions", versions]
    processes = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in processes:  # the go signal, to all of them before any is waited for
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=120)[0] for process in processes]
        return [(process.returncode, output) for process, output in zip(processes, outputs, strict=True)]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)


async def _recorded_definitions(url: str) -> list[tuple[str, str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT name, version FROM workflow_definition ORDER BY 1, 2"))
            return [(row[0], row[1]) for row in rows]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_processes_starting_at_once_on_a_fresh_database_all_come_up(kind: str, tmp_path: Path) -> None:
    if kind == "postgresql" and os.environ.get("LSW_REQUIRE_SERVICES") != "1":
        pytest.skip("needs PostgreSQL (LSW_REQUIRE_SERVICES=1)")
    for trial, url in enumerate(_fresh_databases(kind, tmp_path, 3)):
        results = _start_together(url, "1")
        assert [code for code, _ in results] == [0] * PROCESSES, "\n".join(output for _, output in results)
        assert all(output.strip().endswith("started") for _, output in results)
        if trial == 0:
            # Upgraded: a new version of a workflow, recorded by every process at once.
            results = _start_together(url, "1,2")
            assert [code for code, _ in results] == [0] * PROCESSES, "\n".join(output for _, output in results)
            assert asyncio.run(_recorded_definitions(url)) == [("orders", "1"), ("orders", "2"), ("refunds", "1")]
