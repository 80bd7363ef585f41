"""Learning that the server is shutting down before the ASGI lifespan says so.

uvicorn (like most ASGI servers) handles SIGTERM and SIGINT by closing its sockets and waiting
for open responses to finish; only then does it run the lifespan shutdown. Long-lived responses
(event streams) must learn about the shutdown earlier, or the server waits on them for ever.
:func:`on_termination` puts a handler in front of the server's own: it schedules a callback on
the app's event loop, then hands the signal on unchanged.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ("TERMINATION_SIGNALS", "on_termination")

TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_termination(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` on the running loop when the process gets SIGTERM or SIGINT; returns the undo.

    The handler found before (the server's) still runs for every signal; a default handler is
    honoured by re-raising the signal with it restored. Signals reach only the main thread: in
    any other thread (an app run by a test client) nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)  # a signal handler may interrupt the loop anywhere: no direct call
        prior = previous.get(signum)
        if callable(prior):
            prior(signum, frame)
        elif prior == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for signum in TERMINATION_SIGNALS:
        previous[signum] = signal.signal(signum, handle)

    def restore() -> None:
        for signum, prior in previous.items():
            if signal.getsignal(signum) is handle:  # unless someone installed another handler since
                signal.signal(signum, prior)

    return restore
