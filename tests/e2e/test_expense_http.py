"""The expense example served by uvicorn in a subprocess, walked through over real HTTP.

The walk follows the README's "Try the REST API": alice submits an expense above the legal
limit, bob (managers) approves it, carol (finance) and dave (legal) review it in parallel. The
instance's server-sent events are read over the socket while that happens. The server is then
stopped with SIGTERM and must shut down cleanly; started again on the same database, it still
knows the finished instance.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.expense.app import DATABASE_URL_VARIABLE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
ALICE = {"X-User": "alice"}
BOB = {"X-User": "bob"}
CAROL = {"X-User": "carol"}
DAVE = {"X-User": "dave"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``uvicorn examples.expense.app:app``."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the exit code (killing the server if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"the server ignored SIGTERM for {timeout} s:\n{self.output()}") from None


def start_server(database_url: str, log: Path) -> Server:
    port = free_port()
    env = {**os.environ, DATABASE_URL_VARIABLE: database_url, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "examples.expense.app:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.base_url}/workflows/definitions", headers=ALICE, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"the server did not answer within 60 s:\n{server.output()}")


@pytest.fixture
def server_log(tmp_path: Path) -> Path:
    return tmp_path / "uvicorn.log"


@pytest.fixture
def server(database_url: str, server_log: Path) -> Iterator[Server]:
    running = start_server(database_url, server_log)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(10)


async def read_events(client: httpx.AsyncClient, instance_id: str, opened: asyncio.Event) -> list[dict[str, Any]]:
    """Every server-sent event of the instance's stream, until the server ends it."""
    events: list[dict[str, Any]] = []
    fields: dict[str, str] = {}
    async with client.stream("GET", f"/workflows/instances/{instance_id}/events", headers=ALICE) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        opened.set()
        async for line in response.aiter_lines():
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            if "data" in fields:
                events.append({"event": fields.get("event"), "id": fields.get("id"), **json.loads(fields["data"])})
            fields = {}
    return events


async def open_tasks(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> list[dict[str, Any]]:
    """The caller's open tasks, once there are ``count`` of them (machine steps run in the background)."""
    for _ in range(250):
        response = await client.get("/workflows/tasks", params={"status": "open"}, headers=headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.04)
    raise AssertionError(f"{headers} never saw {count} open task(s)")


async def complete(client: httpx.AsyncClient, task_id: str, headers: dict[str, str], **form: Any) -> httpx.Response:
    return await client.post(f"/workflows/tasks/{task_id}/complete", json=form, headers=headers)


async def finished(client: httpx.AsyncClient, instance_id: str) -> dict[str, Any]:
    for _ in range(250):
        detail: dict[str, Any] = (await client.get(f"/workflows/instances/{instance_id}", headers=ALICE)).json()
        if detail["status"] in {"completed", "failed", "canceled"}:
            return detail
        await asyncio.sleep(0.04)
    raise AssertionError(f"instance {instance_id} did not finish")


async def walk(base_url: str) -> str:
    """Alice's expense through manager approval and both reviews; returns the instance id."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        submitted = await client.post(
            "/workflows/instances",
            json={"workflow": "expense", "data": {"amount": 2500, "description": "conference"}},
            headers=ALICE,
        )
        assert submitted.status_code == 201, submitted.text
        instance_id: str = submitted.json()["id"]
        assert submitted.headers["location"] == f"/workflows/instances/{instance_id}"

        opened = asyncio.Event()
        stream = asyncio.create_task(read_events(client, instance_id, opened))
        await asyncio.wait_for(opened.wait(), 10)

        [manager_task] = await open_tasks(client, BOB, 1)
        assert (manager_task["step"], manager_task["instance_id"]) == ("manager_approval", instance_id)
        wrong_user = await complete(client, manager_task["id"], CAROL, manager_approved=True)
        assert wrong_user.status_code == 403, wrong_user.text
        assert (await client.get(f"/workflows/tasks/{manager_task['id']}", headers=DAVE)).status_code == 403
        invalid = await complete(client, manager_task["id"], BOB, approved=True)
        assert invalid.status_code == 400, invalid.text
        assert "manager_approved" in invalid.text
        approved = await complete(client, manager_task["id"], BOB, manager_approved=True, manager_comment="ok")
        assert approved.status_code == 200, approved.text
        assert approved.json()["completed_by"] == "bob"
        again = await complete(client, manager_task["id"], BOB, manager_approved=True)
        assert again.status_code == 409, again.text

        [finance_task] = await open_tasks(client, CAROL, 1)
        [legal_task] = await open_tasks(client, DAVE, 1)
        assert (finance_task["step"], legal_task["step"]) == ("finance_review", "legal_review")
        assert (await complete(client, legal_task["id"], CAROL, legal_approved=True)).status_code == 403
        reviews = await asyncio.gather(
            complete(client, finance_task["id"], CAROL, finance_approved=True),
            complete(client, legal_task["id"], DAVE, legal_approved=True, legal_comment="compliant"),
        )
        assert [review.status_code for review in reviews] == [200, 200], [review.text for review in reviews]

        done = await finished(client, instance_id)
        assert done["status"] == "completed", done
        assert done["open_tasks"] == []
        assert done["data"]["outcome"] == "paid"
        assert done["data"]["requester"] == "alice"
        assert (done["data"]["manager_approved"], done["data"]["finance_approved"]) == (True, True)
        assert done["data"]["legal_approved"] is True
        assert done["data"]["approved"] is True
        history = {record["step"]: record for record in done["history"]}
        assert {step: record["status"] for step, record in history.items()} == dict.fromkeys(
            [
                "submit",
                "manager_approval",
                "manager_decision",
                "route_by_amount",
                "legal_and_finance",
                "finance_review",
                "legal_review",
                "collect_reviews",
                "pay",
            ],
            "succeeded",
        )
        completed_by = {record["step"]: record["completed_by"] for record in done["history"] if record["completed_by"]}
        assert completed_by == {"manager_approval": "bob", "finance_review": "carol", "legal_review": "dave"}
        assert all(record["attempt"] == 1 for record in done["history"])

        graph = await client.get(f"/workflows/definitions/expense/graph?instance_id={instance_id}", headers=ALICE)
        assert graph.status_code == 200
        assert graph.headers["content-type"].startswith("text/plain")
        assert graph.text.startswith("flowchart TD")
        [highlighted] = [line.split()[1] for line in graph.text.splitlines() if line.strip().endswith(" completed")]
        assert set(highlighted.split(",")) == set(history)
        assert "current" not in graph.text

        events = await asyncio.wait_for(stream, 15)  # the stream ends by itself after workflow.completed
    types = [event["event"] for event in events]
    assert types[0] == "instance.snapshot"
    assert types[-1] == "workflow.completed"
    assert all(event["instance_id"] == instance_id for event in events)
    assert [int(event["id"]) for event in events] == list(range(1, len(events) + 1))
    completions = {
        event["payload"]["step_name"]: event["payload"]["user_id"]
        for event in events[1:]
        if event["event"] == "task.completed"
    }
    assert completions == {"manager_approval": "bob", "finance_review": "carol", "legal_review": "dave"}
    created = {event["payload"]["step_name"] for event in events if event["event"] == "task.created"}
    assert {"finance_review", "legal_review"} <= created
    succeeded = [event["payload"]["step_name"] for event in events if event["event"] == "step.succeeded"]
    assert succeeded[-1] == "pay"
    assert "collect_reviews" in succeeded
    return instance_id


def assert_clean_exit(server: Server) -> None:
    code = server.stop()
    output = server.output()
    # uvicorn shuts down gracefully, then re-raises the signal it caught to exit with it
    assert code in {0, -signal.SIGTERM}, output
    assert "Application shutdown complete" in output, output
    assert "Traceback" not in output, output
    assert "ERROR" not in output, output


async def test_expense_walk_over_http(server: Server, database_url: str, server_log: Path) -> None:
    instance_id = await walk(server.base_url)
    assert_clean_exit(server)

    restarted = start_server(database_url, server_log)
    try:
        async with httpx.AsyncClient(base_url=restarted.base_url, timeout=30) as client:
            detail = await client.get(f"/workflows/instances/{instance_id}", headers=ALICE)
            assert detail.status_code == 200
            assert (detail.json()["status"], detail.json()["data"]["outcome"]) == ("completed", "paid")
            listed = await client.get("/workflows/instances", params={"status": "completed"}, headers=ALICE)
            assert [item["id"] for item in listed.json()["items"]] == [instance_id]
            assert (await client.get("/workflows/tasks", params={"status": "open"}, headers=BOB)).json()["items"] == []
    finally:
        assert_clean_exit(restarted)
