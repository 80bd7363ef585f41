"""W3: our plugin's REST API as a uvicorn app (``uvicorn --app-dir benchmarks/drivers ours_http:app``).

``LSW_BENCH_STORAGE`` is ``sqlite`` (a file in the working directory, WAL, the plugin's default
persistence), ``postgres`` (the database ``LSW_BENCH_DATABASE_URL`` names) or ``memory``. The
caller is named by the ``X-User`` header (a benchmark stand-in for the app's authentication).
The same app serves W3's ceiling, bare Litestar endpoints next to the workflow API (``ceiling.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ceiling import ceiling_handlers, ceiling_lifespan
from litestar import Litestar
from litestar.connection import ASGIConnection
from ours import approve_first_workflow, three_step_workflow

from litestar_workflows import InMemoryPersistence, WorkflowEngineConfig, WorkflowPlugin, WorkflowPluginConfig
from litestar_workflows.web.identity import ANONYMOUS, Identity


def from_header(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    user = connection.headers.get("x-user")
    return Identity(user) if user else ANONYMOUS


def create_app() -> Litestar:
    storage = os.environ.get("LSW_BENCH_STORAGE", "sqlite")
    database_url = f"sqlite+aiosqlite:///{Path.cwd()}/ours-http.sqlite3"
    if storage == "postgres":
        database_url = os.environ["LSW_BENCH_DATABASE_URL"]
    config = WorkflowPluginConfig(
        workflows=[three_step_workflow(), approve_first_workflow()],
        database_url=database_url,
        persistence=InMemoryPersistence() if storage == "memory" else None,
        identity_resolver=from_header,
        engine_config=WorkflowEngineConfig(grace_period=0),
    )
    return Litestar(
        route_handlers=ceiling_handlers,
        plugins=[WorkflowPlugin(config)],
        lifespan=[ceiling_lifespan(Path.cwd() / "bare.sqlite3")],
    )


app = create_app()
