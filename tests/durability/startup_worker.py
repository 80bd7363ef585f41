"""A process that starts the plugin's engine on a database the moment it reads a line on stdin.

Used to start several processes at the same moment on one fresh database. It prints ``ready``
once everything is imported (the slow part), waits for a line, runs ``plugin.run_engine()``
(tables, definitions, recovery) and exits 0 after printing ``started``; any error exits non-zero.

    python -m tests.durability.startup_worker --url URL [--versions 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from litestar_workflows import WorkflowEngineConfig, WorkflowPlugin, WorkflowPluginConfig, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence
from tests.helpers import SetStep, chain


def _plugin(url: str, versions: list[str]) -> WorkflowPlugin:
    workflows = [chain("orders", [SetStep(f"v{version}", "version", version)], version) for version in versions]
    workflows.append(chain("refunds", [SetStep("refund", "refunded", True)]))
    return WorkflowPlugin(
        WorkflowPluginConfig(
            workflows=workflows, database_url=url, engine_config=WorkflowEngineConfig(poll_interval=0.05)
        )
    )


async def _start(plugin: WorkflowPlugin) -> None:
    async with plugin.run_engine() as engine:
        started = await engine.start_workflow("orders")
        finished = await engine.wait_for(started.id, timeout=30)
        assert finished.status is WorkflowStatus.COMPLETED, finished.error


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--versions", default="1")
    args = parser.parse_args()
    plugin = _plugin(args.url, args.versions.split(","))
    persistence = plugin.persistence
    assert isinstance(persistence, SQLAlchemyPersistence)
    _ = persistence.engine  # loads the dialect and the driver before the signal
    print("ready", flush=True)
    sys.stdin.readline()
    asyncio.run(_start(plugin))
    print("started", flush=True)


if __name__ == "__main__":
    main()
