"""Open event streams end when the app shuts down: on SIGTERM/SIGINT, at lifespan shutdown, or when told to."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from types import FrameType

from litestar_workflows import WorkflowPlugin
from litestar_workflows.web.termination import on_termination
from tests.web.conftest import Client, open_task, start


async def test_end_event_streams_ends_a_stream_of_a_waiting_instance(client: Client, plugin: WorkflowPlugin) -> None:
    instance = await start(client, "approval")
    await open_task(client, plugin, instance["id"])

    async def end_once_subscribed() -> None:
        while not plugin.event_bus._subscribers:  # the stream below has opened its subscription
            await asyncio.sleep(0.005)
        plugin.end_event_streams()

    # The test client runs one request at a time; the end comes from the app's own loop.
    client.blocking_portal.start_task_soon(end_once_subscribed)
    stream = await client.get(f"/workflows/instances/{instance['id']}/events")

    assert stream.status_code == 200
    assert stream.text.startswith("id: 1\r\nevent: instance.snapshot\r\n")
    assert stream.text.rstrip().endswith(": the server is shutting down")
    assert not plugin.event_bus._subscribers  # the subscription was closed with the stream


async def test_a_termination_signal_runs_the_callback_and_the_previous_handler() -> None:
    seen: list[str] = []
    called = asyncio.Event()

    def server_handler(signum: int, frame: FrameType | None) -> None:
        seen.append(f"server got {signal.Signals(signum).name}")

    def callback() -> None:
        seen.append("streams ended")
        called.set()

    original = signal.signal(signal.SIGTERM, server_handler)
    try:
        restore = on_termination(callback)
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(called.wait(), 5)
        restore()
        assert signal.getsignal(signal.SIGTERM) is server_handler
    finally:
        signal.signal(signal.SIGTERM, original)
    assert seen == ["server got SIGTERM", "streams ended"]  # the server's handler at once, ours on the loop


SCRIPT = """
import asyncio, signal
from litestar_workflows.web.termination import on_termination

async def main():
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    on_termination(lambda: None)
    signal.raise_signal(signal.SIGTERM)
    await asyncio.sleep(30)

asyncio.run(main())
"""


def test_a_termination_signal_still_kills_a_process_that_had_no_handler() -> None:
    process = subprocess.run([sys.executable, "-c", SCRIPT], timeout=60, check=False, capture_output=True)
    assert process.returncode == -signal.SIGTERM, process.stderr
