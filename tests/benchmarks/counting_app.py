"""A Litestar app that counts what it is sent, for checking the load generator's own counts.

``POST /bare`` answers 201 with a body whose length varies, a 503 every ``LSW_TEST_REFUSE_EVERY``-th
request and ``Connection: close`` every ``LSW_TEST_CLOSE_EVERY``-th (0: never);
``GET /counts`` tells how many requests it answered, how many it refused, how many it answered
with a close, and from how many client connections (ports) they came.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, get, post

__all__ = ["app"]

REFUSE_EVERY = int(os.environ.get("LSW_TEST_REFUSE_EVERY", "0"))
CLOSE_EVERY = int(os.environ.get("LSW_TEST_CLOSE_EVERY", "0"))


@dataclass
class Counts:
    requests: int = 0
    refused: int = 0
    closed: int = 0
    ports: set[int] = field(default_factory=set)


COUNTS = Counts()


@post("/bare")
async def bare(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    COUNTS.requests += 1
    if request.client is not None:
        COUNTS.ports.add(request.client.port)
    headers = {}
    if CLOSE_EVERY and COUNTS.requests % CLOSE_EVERY == 0:
        COUNTS.closed += 1
        headers["Connection"] = "close"
    if REFUSE_EVERY and COUNTS.requests % REFUSE_EVERY == 0:
        COUNTS.refused += 1
        return Response({"detail": "refused on purpose"}, status_code=503, headers=headers)
    # bodies of every length from 0 to 40 padding characters: the framing must hold for each
    return Response({"n": COUNTS.requests, "pad": "x" * (COUNTS.requests % 41)}, status_code=201, headers=headers)


@get("/counts")
async def counts() -> dict[str, int]:
    return {
        "requests": COUNTS.requests,
        "refused": COUNTS.refused,
        "closed": COUNTS.closed,
        "connections": len(COUNTS.ports),
    }


app = Litestar([bare, counts])
