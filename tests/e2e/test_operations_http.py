"""Operating the expense app under uvicorn: workers starting on a fresh database, shutting down with open streams."""

from __future__ import annotations

import asyncio
import os
import signal
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
            if httpx.get(f"{server.base_url}/workflows/definitions", headers=ALICE, timeout=2).status_code == 200:
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


async def _read_stream(base_url: str, instance_id: str, opened: asyncio.Event) -> list[str]:
    """The raw lines of the instance's event stream, until the server ends it."""
    lines: list[str] = []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        client.stream("GET", f"/workflows/instances/{instance_id}/events", headers=ALICE) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            lines.append(line)
            if line.startswith("event: instance.snapshot"):
                opened.set()
    return lines


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
async def test_shutdown_ends_open_event_streams_of_waiting_instances(signal_name: str, tmp_path: Path) -> None:
    """An event stream on an instance waiting for a person used to keep uvicorn from exiting on SIGTERM."""
    server = _serve(f"sqlite+aiosqlite:///{tmp_path / 'expense.sqlite3'}", tmp_path / "uvicorn.log")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            started = await client.post(
                "/workflows/instances",
                json={"workflow": "expense", "data": {"amount": 20, "description": "taxi"}},
                headers=ALICE,
            )
            assert started.status_code == 201, started.text
        instance_id = started.json()["id"]
        opened = asyncio.Event()
        stream = asyncio.create_task(_read_stream(server.base_url, instance_id, opened))
        await asyncio.wait_for(opened.wait(), 30)

        server.process.send_signal(getattr(signal, signal_name))
        lines = await asyncio.wait_for(stream, 30)  # the stream ends: the client's read loop returns
        code = await asyncio.to_thread(server.process.wait, 30)  # and the server exits (it used to hang here)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)
    output = server.output()
    assert code in {0, -getattr(signal, signal_name)}, output
    assert ": the server is shutting down" in lines
    assert "Application shutdown complete" in output, output
    assert "Traceback" not in output and "ERROR" not in output, output
