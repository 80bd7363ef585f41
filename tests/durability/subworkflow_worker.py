"""A process for the sub-workflow kill test: it dies the moment a child's last change is committed.

``start`` starts an ``order`` whose ``price`` step runs ``pricing`` as a child, and SIGKILLs its own
process right after the commit that completes the child: before this process publishes anything
of that commit (the parent's next step is committed as runnable, and nothing runs it).
``recover`` is the restarted process: it recovers what was committed and runs the order to its end.
Every run of the parent's ``ship`` step appends a line to ``--log``.

    python -m tests.durability.subworkflow_worker start --url URL --log PATH
    python -m tests.durability.subworkflow_worker recover --url URL --log PATH
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from litestar_workflows import (
    BaseMachineStep,
    LocalExecutionEngine,
    SubWorkflowStep,
    WorkflowContext,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.engine.persistence import InstanceChange
from tests.helpers import SetStep, chain


class Quote(BaseMachineStep):
    """The child's only step: a price from the amount."""

    async def execute(self, context: WorkflowContext) -> Any:
        context.set("price", context.get("amount") * 2)


class Ship(BaseMachineStep):
    """The parent's step after the call; each run leaves a line in the log (outside the database)."""

    log_path: Path | None = None

    async def execute(self, context: WorkflowContext) -> Any:
        assert self.log_path is not None
        with self.log_path.open("a") as log:
            log.write(f"{os.getpid()} shipped {context.instance_id}\n")
        context.set("shipped", True)


class DiesWhenAChildEnds(SQLAlchemyPersistence):
    """SIGKILLs its process right after committing a change that ends a sub-workflow instance."""

    async def commit(self, change: InstanceChange) -> bool:
        held = await super().commit(change)
        if change.instance.parent_id is not None and change.instance.status.is_finished:
            os.kill(os.getpid(), signal.SIGKILL)
        return held


def registry() -> WorkflowRegistry:
    workflows = WorkflowRegistry()
    workflows.register_definition(chain("pricing", [Quote("quote")]))
    call = SubWorkflowStep("price", "pricing", input={"amount": "total"}, output={"quoted": "price"})
    workflows.register_definition(chain("order", [SetStep("record", "recorded", True), call, Ship("ship")]))
    return workflows


async def start(url: str) -> None:
    persistence = DiesWhenAChildEnds(url=url, create_all=True)
    engine = LocalExecutionEngine(registry(), persistence, lease_seconds=1, poll_interval=0.1)
    await engine.start()
    instance = await engine.start_workflow("order", {"total": 21})
    print("started", instance.id, flush=True)
    await asyncio.sleep(60)  # killed long before


async def recover(url: str) -> None:
    persistence = SQLAlchemyPersistence(url=url)
    engine = LocalExecutionEngine(registry(), persistence, lease_seconds=1, poll_interval=0.1)
    await engine.start()
    while await persistence.list_instances(status=WorkflowStatus.RUNNING):
        await asyncio.sleep(0.1)
    await engine.stop(1)
    await persistence.close()
    print("all done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["start", "recover"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    Ship.log_path = args.log
    asyncio.run(start(args.url) if args.mode == "start" else recover(args.url))


if __name__ == "__main__":
    main()
