"""A workflow process for the kill tests: ``produce`` instances, or ``run`` them until none is left.

Every step appends ``owner instance step attempt phase time`` lines to an external log (a side
effect outside the database: at-least-once); the ``book`` step is transactional and inserts a
row into the app's own ``ledger`` table through ``context.session`` (exactly once).

    python -m tests.durability.worker produce --url URL --count 300
    python -m tests.durability.worker run --url URL --log PATH [--lease 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from litestar_workflows import (
    BaseMachineStep,
    Edge,
    LocalExecutionEngine,
    TransactionalStep,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.db import SQLAlchemyPersistence

OWNER = f"worker-{os.getpid()}"
LEDGER_DDL = "CREATE TABLE IF NOT EXISTS ledger (instance_id VARCHAR(64), step VARCHAR(64), attempt INTEGER)"


class Logged(BaseMachineStep):
    """A plain step: its side effect (a log line) may happen more than once after a crash."""

    log_path: Path | None = None

    async def execute(self, context: WorkflowContext) -> Any:
        self.write(context, "start")
        await asyncio.sleep(0.003)
        self.write(context, "end")
        context.set(self.name, context.attempt)
        return self.name

    def write(self, context: WorkflowContext, phase: str) -> None:
        assert self.log_path is not None
        line = f"{OWNER} {context.instance_id} {self.name} {context.attempt} {phase} {time.time():.6f}\n"
        with self.log_path.open("a") as log:
            log.write(line)


class Book(TransactionalStep):
    """A transactional step: its ledger row commits with the step's recorded result."""

    async def execute(self, context: WorkflowContext) -> Any:
        await context.session.execute(
            text("INSERT INTO ledger (instance_id, step, attempt) VALUES (:instance, :step, :attempt)"),
            {"instance": str(context.instance_id), "step": self.name, "attempt": context.attempt},
        )
        await asyncio.sleep(0.002)
        return "booked"


def definition() -> WorkflowDefinition:
    steps = {"first": Logged("first"), "book": Book("book"), "last": Logged("last")}
    return WorkflowDefinition(
        "durable",
        "1",
        "kill-test workflow",
        dict(steps),
        [Edge("first", "book"), Edge("book", "last")],
        "first",
        {"last"},
    )


class NullDispatcher:
    """Runs nothing: the producer only creates instances and leaves them to the runners."""

    def dispatch(self, instance_id: Any, token_id: str, not_before: Any = None) -> None:
        return None

    async def close(self, grace_period: float = 0.0) -> None:
        return None


async def ensure_ledger(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(LEDGER_DDL))
    await engine.dispose()


async def produce(url: str, count: int) -> None:
    await ensure_ledger(url)
    registry = WorkflowRegistry()
    registry.register_definition(definition())
    persistence = SQLAlchemyPersistence(url=url, create_all=True)
    engine = LocalExecutionEngine(registry, persistence, dispatcher=NullDispatcher(), owner_id="producer")
    for _ in range(count):
        await engine.start_workflow("durable")
    await engine.stop(0)  # releases the leases: the runners claim the instances
    await persistence.close()
    print("produced", count, flush=True)


async def run(url: str, log: Path, lease: float) -> None:
    Logged.log_path = log
    registry = WorkflowRegistry()
    registry.register_definition(definition())
    persistence = SQLAlchemyPersistence(url=url)
    engine = LocalExecutionEngine(registry, persistence, owner_id=OWNER, lease_seconds=lease, poll_interval=0.1)
    await engine.start()
    print("running", OWNER, flush=True)
    while True:
        await asyncio.sleep(0.2)
        if not await persistence.list_instances(status=WorkflowStatus.RUNNING):
            break
    await engine.stop(1)
    await persistence.close()
    print("all done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["produce", "run"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--lease", type=float, default=2.0)
    args = parser.parse_args()
    if args.mode == "produce":
        asyncio.run(produce(args.url, args.count))
    else:
        assert args.log is not None
        asyncio.run(run(args.url, args.log, args.lease))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
