"""Real processes for the queue tests: one web process (``litestar run``) and SAQ workers (``litestar workers run``)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from litestar_workflows import StepStatus, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence

ROOT = Path(__file__).resolve().parents[2]
LITESTAR = [sys.executable, "-m", "litestar", "--app", "tests.queue.app:app"]
MACHINE_STEPS = ("prepare", "left", "right", "combine", "finish")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """The processes of one test and where they write."""

    folder: Path
    environment: dict[str, str]
    port: int = field(default_factory=free_port)
    web: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def step_log(self) -> Path:
        return Path(self.environment["LSW_STEP_LOG"])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/workflows"

    def spawn(self, name: str, *arguments: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("wb") as output:  # the child keeps its own descriptor
            return subprocess.Popen(
                [*LITESTAR, *arguments], cwd=ROOT, env=self.environment, stdout=output, stderr=subprocess.STDOUT
            )

    def start(self, workers: int) -> None:
        self.web = self.spawn("web", "run", "--port", str(self.port))
        self.add_workers(workers)

    def add_workers(self, count: int) -> None:
        first = len(self.workers)
        self.workers += [self.spawn(f"worker{number}", "workers", "run") for number in range(first, first + count)]
        deadline = time.monotonic() + 60
        while not self._web_up() or not all(self._worker_up(number) for number in range(len(self.workers))):
            assert time.monotonic() < deadline, "the processes did not come up: " + self.output("web")
            for process in [self.web, *self.workers]:
                assert process is not None and process.poll() is None, "a process exited: " + self.output("web")
            time.sleep(0.2)

    def _web_up(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _worker_up(self, number: int) -> bool:
        return "Worker starting" in self.output(f"worker{number}")

    def output(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill_worker(self, number: int) -> int:
        """SIGKILL a worker; its lines in the step log all come before the ``kill`` line written here."""
        victim = self.workers[number]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        with self.step_log.open("a") as log:
            log.write(f"kill {victim.pid} - -\n")
        return victim.pid

    def stop(self) -> None:
        for process in [self.web, *self.workers]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [self.web, *self.workers]:
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@contextlib.contextmanager
def cluster(folder: Path, queue_url: str, database_url: str, workers: int = 2) -> Iterator[Cluster]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LSW_QUEUE_URL": queue_url,
        "LSW_DB_URL": database_url,
        "LSW_STEP_LOG": str(folder / "steps.log"),
        "LSW_QUEUE_NAME": f"lsw_{os.getpid()}_{time.monotonic_ns()}",
    }
    running = Cluster(folder, environment)
    try:
        running.start(workers)
        yield running
    finally:
        running.stop()


def step_lines(log: Path) -> list[list[str]]:
    """``[phase, pid, instance, step]`` per line, in the order the processes appended them."""
    if not log.exists():
        return []
    return [line.split() for line in log.read_text().splitlines() if line.count(" ") == 3]


def assert_one_process_at_a_time(lines: list[list[str]]) -> None:
    """No instance had steps running in two processes at once (a killed process's runs end at its ``kill`` line)."""
    running: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for phase, pid, instance, _ in lines:
        if phase == "kill":
            for counter in running.values():
                del counter[pid]
        elif phase == "start":
            others = {other for other, count in running[instance].items() if count and other != pid}
            assert not others, f"instance {instance}: a step started in {pid} while {others} ran one"
            running[instance][pid] += 1
        elif phase == "end":
            running[instance][pid] -= 1


async def start_instances(base_url: str, count: int) -> list[UUID]:
    async with httpx.AsyncClient(base_url=base_url, headers={"X-User": "alice"}, timeout=60) as client:
        gate = asyncio.Semaphore(16)

        async def start() -> UUID:
            async with gate:
                response = await client.post("/instances", json={"workflow": "fanout", "data": {}})
                assert response.status_code == 201, response.text
                return UUID(response.json()["id"])

        return list(await asyncio.gather(*(start() for _ in range(count))))


async def approve_all(base_url: str, expected: int, timeout: float = 120) -> None:
    """Complete every ``approve`` task over HTTP as they open, until ``expected`` were completed."""
    deadline = time.monotonic() + timeout
    done = 0
    async with httpx.AsyncClient(base_url=base_url, headers={"X-User": "bob"}, timeout=60) as client:
        gate = asyncio.Semaphore(16)

        async def complete(task_id: str) -> None:
            async with gate:
                response = await client.post(f"/tasks/{task_id}/complete", json={})
                assert response.status_code == 200, response.text

        while done < expected:
            assert time.monotonic() < deadline, f"only {done} of {expected} tasks opened in time"
            listing = (await client.get("/tasks", params={"limit": 200, "status": "open"})).json()
            if not listing["items"]:
                await asyncio.sleep(0.3)
                continue
            await asyncio.gather(*(complete(task["id"]) for task in listing["items"]))
            done += len(listing["items"])


async def wait_all_completed(database_url: str, count: int, timeout: float = 120) -> dict[UUID, Any]:
    """Every instance's status and its succeeded steps (as recorded), once all ``count`` are finished."""
    persistence = SQLAlchemyPersistence(url=database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            instances = await persistence.list_instances()
            finished = [i for i in instances if i.status.is_finished]
            if len(instances) == count and len(finished) == count:
                break
            assert time.monotonic() < deadline, f"{len(finished)} of {count} instances finished in time"
            await asyncio.sleep(0.5)
        recorded: dict[UUID, Any] = {}
        for instance in instances:
            loaded = await persistence.load_instance(instance.id)
            assert loaded is not None
            successes = collections.Counter(
                e.step_name for e in loaded.context.step_history if e.status is StepStatus.SUCCEEDED
            )
            recorded[instance.id] = (loaded.status, successes)
        return recorded
    finally:
        await persistence.close()


def assert_all_completed_once(recorded: dict[UUID, Any]) -> None:
    for instance_id, (status, successes) in recorded.items():
        assert status is WorkflowStatus.COMPLETED, f"{instance_id} ended {status}"
        for step in (*MACHINE_STEPS, "approve"):
            assert successes[step] == 1, f"{instance_id}: {step} recorded {successes[step]} times"
