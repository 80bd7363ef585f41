"""Steps on SAQ workers: one web process and two worker processes, on Redis and on PostgreSQL queues.

Real processes (``litestar run``, ``litestar workers run``), real kills (SIGKILL), a real loss of
every queued job (Redis ``FLUSHDB``, or the SAQ jobs table emptied on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _require_services, fresh_database
from tests.queue.cluster import (
    Cluster,
    approve_all,
    assert_all_completed_once,
    assert_one_process_at_a_time,
    cluster,
    start_instances,
    step_lines,
    wait_all_completed,
)

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/7"
"""A Redis database of the queue tests' own: the loss test empties it (``FLUSHDB``), nothing else."""

INSTANCES = 300
"""Instances of the kill run per backend (about 20 s on Redis, 45 s on PostgreSQL on this machine)."""


def _redis(*commands: tuple[str, ...]) -> bytes:
    """Send commands to the test Redis (in the RESP protocol) and read the answers."""
    request = "".join(
        f"*{len(command)}\r\n" + "".join(f"${len(part)}\r\n{part}\r\n" for part in command) for command in commands
    )
    with socket.create_connection(("127.0.0.1", 6379), timeout=3) as connection:
        connection.sendall(request.encode())
        time.sleep(0.1)
        return connection.recv(1024)


@pytest.fixture(params=["redis", "postgres"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(queue URL, workflow database URL): a fresh PostgreSQL database, and the queue on Redis or in that database."""
    if request.param == "redis":
        try:
            _redis(("PING",))
        except OSError as exc:
            if _require_services():
                pytest.fail(f"Redis is required (LSW_REQUIRE_SERVICES=1) but unreachable: {exc}")
            pytest.skip(f"Redis unreachable at 127.0.0.1:6379: {exc}")
    with fresh_database("postgresql", tmp_path) as database_url:
        libpq = database_url.replace("postgresql+asyncpg://", "postgresql://")
        yield (REDIS_URL if request.param == "redis" else libpq), database_url


def wait_for_lines(running: Cluster, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(step_lines(running.step_log)) < count:
        assert time.monotonic() < deadline, "the workers ran too few steps: " + running.output("worker0")
        time.sleep(0.05)


def test_two_workers_one_killed_run_everything_once(urls: tuple[str, str], tmp_path: Path) -> None:
    queue_url, database_url = urls
    with cluster(tmp_path, queue_url, database_url) as running:
        assert running.web is not None
        asyncio.run(start_instances(running.base_url, INSTANCES))
        wait_for_lines(running, INSTANCES)  # well under way: 8 lines per instance before the approval
        killed = running.kill_worker(0)
        asyncio.run(approve_all(running.base_url, INSTANCES))
        recorded = asyncio.run(wait_all_completed(database_url, INSTANCES))
        lines = step_lines(running.step_log)
        web_pid = running.web.pid

    assert len(recorded) == INSTANCES
    assert_all_completed_once(recorded)
    assert_one_process_at_a_time(lines)
    ran_steps = {pid for phase, pid, _, _ in lines if phase == "start"}
    assert str(web_pid) not in ran_steps, "the web process ran steps"
    assert str(killed) in ran_steps, "the killed worker had done no work"
    assert len(ran_steps) == 2, f"both workers should have run steps: {ran_steps}"
    ended = {(instance, step) for phase, _, instance, step in lines if phase == "end"}
    assert len(ended) == INSTANCES * 5, "a step never completed"


def test_work_the_queue_lost_is_recovered(urls: tuple[str, str], tmp_path: Path) -> None:
    queue_url, database_url = urls
    count = 40
    # No worker yet: every job the web process enqueued is lost with the queue's data, so each
    # instance can only be found by the workers' recovery (due work, no live lease, grace passed).
    with cluster(tmp_path, queue_url, database_url, workers=0) as running:
        asyncio.run(start_instances(running.base_url, count))
        if queue_url.startswith("redis"):
            assert _redis(("SELECT", "7"), ("FLUSHDB",)) == b"+OK\r\n+OK\r\n"
        else:
            asyncio.run(_drop_saq_jobs(database_url))
        running.add_workers(2)
        asyncio.run(approve_all(running.base_url, count))
        recorded = asyncio.run(wait_all_completed(database_url, count))
    assert_all_completed_once(recorded)


async def _drop_saq_jobs(database_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM saq_jobs"))
    await engine.dispose()


def test_event_stream_on_the_web_process_sees_steps_run_by_workers(urls: tuple[str, str], tmp_path: Path) -> None:
    queue_url, database_url = urls
    with cluster(tmp_path, queue_url, database_url) as running:
        (instance_id,) = asyncio.run(start_instances(running.base_url, 1))
        events = asyncio.run(_follow_while_approving(running.base_url, str(instance_id)))
        lines = step_lines(running.step_log)
        assert running.web is not None
        web_pid = str(running.web.pid)
    assert events[0] == ("instance.snapshot", None)
    assert ("step.succeeded", "finish") in events, events
    assert events[-1] == ("workflow.completed", None)
    finish_runners = {pid for phase, pid, _, step in lines if phase == "start" and step == "finish"}
    assert finish_runners and web_pid not in finish_runners, "the step was not run by a worker"


async def _follow_while_approving(base_url: str, instance_id: str) -> list[tuple[str, str | None]]:
    events: list[tuple[str, str | None]] = []
    async with httpx.AsyncClient(base_url=base_url, headers={"X-User": "alice"}, timeout=60) as client:
        # Once the instance waits for its approval, follow it, then approve: the rest runs on a worker.
        while (await client.get(f"/instances/{instance_id}")).json()["status"] != "waiting":
            await asyncio.sleep(0.1)
        async with client.stream("GET", f"/instances/{instance_id}/events") as stream:
            approving = asyncio.create_task(approve_all(base_url, 1))
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    event = json.loads(line.removeprefix("data: "))
                    step = None if event["type"] == "instance.snapshot" else event["payload"].get("step_name")
                    events.append(
                        (
                            event["type"],
                            step,
                        )
                    )
            await approving
    return events


def test_a_stream_on_the_web_process_ends_when_it_shuts_down(urls: tuple[str, str], tmp_path: Path) -> None:
    queue_url, database_url = urls
    with cluster(tmp_path, queue_url, database_url, workers=1) as running:
        (instance_id,) = asyncio.run(start_instances(running.base_url, 1))
        lines = asyncio.run(_follow_through_shutdown(running, str(instance_id)))
        assert running.web is not None
        code = running.web.wait(timeout=30)  # uvicorn re-raises the SIGTERM it handled once it shut down
        assert code in {0, -signal.SIGTERM}, f"exit {code}: " + running.output("web")[-300:]
        assert "Application shutdown complete" in running.output("web")
    assert any("shutting down" in line for line in lines), lines


async def _follow_through_shutdown(running: Cluster, instance_id: str) -> list[str]:
    lines: list[str] = []
    async with httpx.AsyncClient(base_url=running.base_url, headers={"X-User": "alice"}, timeout=60) as client:
        while (await client.get(f"/instances/{instance_id}")).json()["status"] != "waiting":
            await asyncio.sleep(0.1)
        async with client.stream("GET", f"/instances/{instance_id}/events") as stream:
            async for line in stream.aiter_lines():
                lines.append(line)
                if line.startswith("data: ") and running.web is not None and running.web.poll() is None:
                    running.web.send_signal(signal.SIGTERM)  # a person's approval is pending: the stream would not end
    return lines
