"""Durability claims, tested by really killing processes (SIGKILL) and restarting them."""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from litestar_workflows import StepStatus, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("first", "book", "last")
PLAIN_STEPS = ("first", "last")  # "book" is transactional: it writes the ledger, not the log


def worker(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.durability.worker", *args]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def produce(url: str, count: int) -> None:
    subprocess.run(
        worker("produce", "--url", url, "--count", str(count)),
        check=True,
        cwd=ROOT,
        env=environment(),
        timeout=120,
        capture_output=True,
    )


def start_runner(url: str, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        worker("run", "--url", url, "--log", str(log), "--lease", "2"),
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def log_lines(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [line.split() for line in log.read_text().splitlines() if line.count(" ") == 5]


def wait_for_lines(log: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(log_lines(log)) < count:
        assert time.monotonic() < deadline, f"the runner wrote only {len(log_lines(log))} log lines"
        time.sleep(0.01)


def finish(process: subprocess.Popen[str], timeout: float = 180) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    assert "all done" in out, out + err
    return out


async def recorded(url: str) -> tuple[dict[UUID, WorkflowStatus], dict[UUID, collections.Counter[str]], dict[str, int]]:
    persistence = SQLAlchemyPersistence(url=url)
    statuses: dict[UUID, WorkflowStatus] = {}
    successes: dict[UUID, collections.Counter[str]] = {}
    for instance in await persistence.list_instances():
        loaded = await persistence.load_instance(instance.id)
        assert loaded is not None
        statuses[instance.id] = loaded.status
        successes[instance.id] = collections.Counter(
            e.step_name for e in loaded.context.step_history if e.status is StepStatus.SUCCEEDED
        )
    await persistence.close()
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT instance_id, count(*) FROM ledger GROUP BY instance_id"))).all()
    await engine.dispose()
    return statuses, successes, {str(row[0]): int(row[1]) for row in rows}


def assert_never_concurrent(lines: list[list[str]], killed: dict[str, float]) -> None:
    """No instance had steps of two different processes running at overlapping times."""
    intervals: dict[str, list[tuple[float, float, str]]] = collections.defaultdict(list)
    opened: dict[tuple[str, str, str, str], float] = {}
    for owner, instance, step, attempt, phase, at in lines:
        key = (owner, instance, step, attempt)
        if phase == "start":
            opened[key] = float(at)
        else:
            intervals[instance].append((opened.pop(key), float(at), owner))
    for (owner, instance, _, _), began in opened.items():  # interrupted by the kill
        intervals[instance].append((began, killed[owner], owner))
    for instance, spans in intervals.items():
        spans.sort()
        for (_, end, owner), (begin, _, other) in itertools.pairwise(spans):
            assert owner == other or begin >= end, f"instance {instance} was advanced by {owner} and {other} at once"


def test_kill_nine_mid_flight_then_restart_loses_nothing(database_url: str, tmp_path: Path) -> None:
    count = 200
    log = tmp_path / "steps.log"
    produce(database_url, count)
    victim = start_runner(database_url, log)
    wait_for_lines(log, count)  # well into the run, far from its end (3 steps x 2 lines x count)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=10)
    killed_owner = f"worker-{victim.pid}"
    killed = {killed_owner: time.time()}
    lines_at_kill = len(log_lines(log))
    assert lines_at_kill < count * len(PLAIN_STEPS) * 2, "the kill came too late to interrupt anything"

    finish(start_runner(database_url, log))

    statuses, successes, ledger = asyncio.run(recorded(database_url))
    assert len(statuses) == count, "an instance was lost"
    assert set(statuses.values()) == {WorkflowStatus.COMPLETED}
    for instance_id, counter in successes.items():
        assert counter == dict.fromkeys(STEPS, 1), f"{instance_id}: a step result was recorded twice: {counter}"
    assert len(ledger) == count and set(ledger.values()) == {1}, "the transactional step's row is not exactly once"
    lines = log_lines(log)
    ended = {(instance, step) for _, instance, step, _, phase, _ in lines if phase == "end"}
    assert ended == {(str(i), step) for i in statuses for step in PLAIN_STEPS}, "a plain step never completed"
    assert_never_concurrent(lines, killed)


def test_two_processes_share_the_work_and_survive_one_being_killed(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several engine processes need PostgreSQL (SQLite has one writer process)")
    count = 300
    log = tmp_path / "steps.log"
    produce(database_url, count)
    first, second = start_runner(database_url, log), start_runner(database_url, log)
    wait_for_lines(log, count)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=10)
    killed = {f"worker-{first.pid}": time.time()}

    finish(second)

    statuses, successes, ledger = asyncio.run(recorded(database_url))
    assert len(statuses) == count and set(statuses.values()) == {WorkflowStatus.COMPLETED}
    for instance_id, counter in successes.items():
        assert counter == dict.fromkeys(STEPS, 1), f"{instance_id}: recorded twice: {counter}"
    assert len(ledger) == count and set(ledger.values()) == {1}
    lines = log_lines(log)
    owners = collections.Counter(owner for owner, *_ in lines)
    assert len(owners) == 2, f"the load was not shared: {owners}"
    assert_never_concurrent(lines, killed)
