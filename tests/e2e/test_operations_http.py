"""Operating the expense app under uvicorn: several workers starting on a fresh database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from examples.expense.app import DATABASE_URL_VARIABLE
from tests.conftest import PG_ADMIN_DSN, _pg
from tests.e2e.test_expense_http import ALICE, ROOT, Server, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _fresh_postgres() -> Iterator[str]:
    name = f"lsw_workers_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _serve(database_url: str, log: Path, *options: str) -> Server:
    """``uvicorn examples.expense.app:app`` with ``options``, once it answers (or fails)."""
    port = free_port()
    env = {**os.environ, DATABASE_URL_VARIABLE: database_url, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "uvicorn", "examples.expense.app:app", "--port", str(port), *options]
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"uvicorn exited with {process.returncode}:\n{server.output()}"
        try:
            if httpx.get(f"{server.base_url}/workflows/definitions", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"uvicorn did not answer within 60 s:\n{server.output()}")


@pytest.mark.postgres
@pytest.mark.parametrize("trial", range(3))
def test_two_uvicorn_workers_start_on_a_fresh_database(trial: int, tmp_path: Path) -> None:
    if os.environ.get("LSW_REQUIRE_SERVICES") != "1":
        pytest.skip("needs PostgreSQL (LSW_REQUIRE_SERVICES=1)")
    log = tmp_path / "uvicorn.log"
    for url in _fresh_postgres():
        server = _serve(url, log, "--workers", "2")
        try:
            deadline = time.monotonic() + 60
            while server.output().count("Application startup complete") < 2:
                assert "startup failed" not in server.output(), server.output()
                assert time.monotonic() < deadline, f"the second worker did not start:\n{server.output()}"
                time.sleep(0.1)
            started = httpx.post(
                f"{server.base_url}/workflows/instances",
                json={"workflow": "expense", "data": {"amount": 20, "description": "taxi"}},
                headers=ALICE,
                timeout=30,
            )
            assert started.status_code == 201, started.text
        finally:
            code = server.stop()
        output = server.output()
        assert code in {0, -15}, output
        assert "Traceback" not in output, output
        assert output.count("Application startup complete") == 2, output
