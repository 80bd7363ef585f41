"""The app of the queue tests: one file for the web role (``litestar run``) and workers (``litestar workers run``).

Configured by environment variables: ``LSW_QUEUE_URL`` (redis:// or postgresql://), ``LSW_DB_URL``
(an async SQLAlchemy URL), ``LSW_STEP_LOG`` (a file every machine step appends ``start``/``end``
lines to: ``phase pid instance step``) and ``LSW_STEP_SLEEP`` (seconds each step awaits).

The flow: ``prepare`` -> ``split`` (fork) -> ``left`` + ``right`` -> ``combine`` (join) ->
``approve`` (a person, group ``approvers``) -> ``finish``. Callers name themselves in ``X-User``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    Identity,
    ParallelGateway,
    Step,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowEngineConfig,
    WorkflowPlugin,
    WorkflowPluginConfig,
)
from litestar_workflows.queue import WorkflowQueueConfig

__all__ = ("app", "create_app", "fanout_workflow")


class Logged(BaseMachineStep):
    """Appends ``start`` and ``end`` lines around an awaited pause: who ran which step, and when."""

    async def execute(self, context: WorkflowContext) -> Any:
        write("start", context)
        await asyncio.sleep(float(os.environ.get("LSW_STEP_SLEEP", "0.01")))
        write("end", context)
        context.set(self.name, os.getpid())
        return self.name


def write(phase: str, context: WorkflowContext) -> None:
    line = f"{phase} {os.getpid()} {context.instance_id} {context.current_step}\n".encode()
    descriptor = os.open(os.environ["LSW_STEP_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)  # one write with O_APPEND: lines of several processes never interleave
    finally:
        os.close(descriptor)


def fanout_workflow() -> WorkflowDefinition:
    steps: list[Step] = [
        Logged("prepare"),
        ParallelGateway("split", branches=["left", "right"]),
        Logged("left"),
        Logged("right"),
        Logged("combine"),
        BaseHumanStep("approve", title="Approve", candidate_groups=["approvers"]),
        Logged("finish"),
    ]
    return WorkflowDefinition(
        name="fanout",
        version="1",
        description="A fork and a join, then a person's approval.",
        steps={step.name: step for step in steps},
        edges=[
            Edge("prepare", "split"),
            Edge("left", "combine"),
            Edge("right", "combine"),
            Edge("combine", "approve"),
            Edge("approve", "finish"),
        ],
        initial_step="prepare",
        terminal_steps={"finish"},
    )


def header_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    return Identity(connection.headers.get("x-user", ""), frozenset({"approvers"}))


def create_app() -> Litestar:
    config = WorkflowPluginConfig(
        workflows=[fanout_workflow()],
        database_url=os.environ["LSW_DB_URL"],
        identity_resolver=header_identity,
        engine_config=WorkflowEngineConfig(lease_seconds=3.0, poll_interval=0.5, grace_period=1.0),
        queue=WorkflowQueueConfig(
            os.environ["LSW_QUEUE_URL"],
            name=os.environ.get("LSW_QUEUE_NAME", "litestar_workflows"),
            concurrency=8,
            recovery_grace=2.0,
            heartbeat=10,
            held_retry_delay=0.2,
        ),
        sse_keepalive=1.0,
    )
    return Litestar(plugins=[WorkflowPlugin(config)])


app = create_app()
