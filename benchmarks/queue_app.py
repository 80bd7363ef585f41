"""The app of the queue benchmark: three slow machine steps (50 ms of awaited I/O each), in one app file.

``LSW_BENCH_DB`` is the database (an async SQLAlchemy URL). With ``LSW_BENCH_QUEUE`` (redis:// or
postgresql://) the app runs split: ``litestar run`` is the web role, ``litestar workers run`` a worker;
without it, one process serves and runs everything (today's default).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from litestar import Litestar

from litestar_workflows import (
    BaseMachineStep,
    Edge,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowPlugin,
    WorkflowPluginConfig,
)
from litestar_workflows.queue import WorkflowQueueConfig

__all__ = ("STEP_SECONDS", "app")

STEP_SECONDS = 0.05
"""What each step awaits: a call to a slow service."""


class SlowCall(BaseMachineStep):
    async def execute(self, context: WorkflowContext) -> Any:
        await asyncio.sleep(STEP_SECONDS)
        context.set(self.name, True)
        return self.name


def slow_workflow() -> WorkflowDefinition:
    steps = [SlowCall("one"), SlowCall("two"), SlowCall("three")]
    return WorkflowDefinition(
        name="slow",
        version="1",
        description="three calls to a slow service",
        steps={step.name: step for step in steps},
        edges=[Edge("one", "two"), Edge("two", "three")],
        initial_step="one",
        terminal_steps={"three"},
    )


queue_url = os.environ.get("LSW_BENCH_QUEUE")
app = Litestar(
    plugins=[
        WorkflowPlugin(
            WorkflowPluginConfig(
                workflows=[slow_workflow()],
                database_url=os.environ["LSW_BENCH_DB"],
                allow_anonymous=True,
                queue=None
                if not queue_url
                else WorkflowQueueConfig(queue_url, concurrency=10, pool_max_size=12, recovery_grace=30),
            )
        )
    ]
)
