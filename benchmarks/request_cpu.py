"""CPU per HTTP request of the event loop's thread: W3's app called in-process, no server, no socket.

    python -m benchmarks.request_cpu [--scenario start-human] [--n 2000] [--clients 16] [--profile out.prof]

Builds the app W3 serves (``drivers/ours_http.py``, SQLite in a temporary folder), runs its
lifespan, then sends N requests straight to the ASGI callable, ``--clients`` at a time, and prints
the loop thread's CPU (``time.thread_time``) per request: what the framework and our code cost
per request on the thread that limits the server, without the server's own parsing. The SQLite
commits run in the writer thread, whose CPU is printed apart (it competes with the loop for the
GIL wherever it runs Python). With ``--profile`` the measured requests
run under cProfile. For counts that do not move with the machine's load, run it under
``valgrind --tool=callgrind --separate-threads=yes`` with two sizes and subtract.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

__all__ = ("main",)

Message = MutableMapping[str, Any]
ASGIApp = Callable[[Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

_PATHS = {"start-human": "/workflows/instances", "start": "/workflows/instances", "bare": "/bare"}
_WORKFLOWS = {"start-human": "w3", "start": "w1", "bare": "w1"}


def _scope(path: str, body: bytes) -> Message:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"x-user", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _request(app: ASGIApp, path: str, body: bytes) -> int:
    """One request through the ASGI app; its status code."""
    sent = False
    status = 0

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # a disconnect never comes while the answer is pending
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(path, body), receive, send)
    return status


async def _lifespan(app: ASGIApp) -> tuple[asyncio.Queue[Message], asyncio.Task[None]]:
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise SystemExit(f"start-up failed: {started}")
    return inbox, task


async def _drive(app: ASGIApp, path: str, body: bytes, n: int, clients: int) -> None:
    remaining = n

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            status = await _request(app, path, body)
            if status >= 300:
                raise SystemExit(f"status {status}")

    await asyncio.gather(*(client() for _ in range(clients)))


async def _run(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).parent / "drivers"))
    from ours_http import create_app

    app: Any = create_app()
    inbox, lifespan = await _lifespan(app)
    path, body = _PATHS[args.scenario], json.dumps({"workflow": _WORKFLOWS[args.scenario]}).encode()
    await _drive(app, path, body, args.warmup, args.clients)
    profile = cProfile.Profile() if args.profile else None
    if profile is not None:
        profile.enable()
    before, process_before = time.thread_time(), time.process_time()
    await _drive(app, path, body, args.n, args.clients)
    spent, process_spent = time.thread_time() - before, time.process_time() - process_before
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
    source = Path(sys.modules["litestar_workflows"].__file__ or "").parent.parent  # which checkout ran
    each, others = spent / args.n * 1e6, (process_spent - spent) / args.n * 1e6
    print(
        f"{args.scenario} ({source}): {args.n} requests, {args.clients} at a time: {each:.0f} µs of loop CPU"
        f" each, {others:.0f} µs in other threads (the SQLite writer's)"
    )
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(_PATHS), default="start-human")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
    with tempfile.TemporaryDirectory(prefix="lsw-request-cpu-") as folder:
        os.chdir(folder)
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
