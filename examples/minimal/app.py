"""The smallest app with workflows: one definition, the plugin, done.

    uvicorn examples.minimal.app:app --reload

Then, with any HTTP client::

    POST /workflows/instances            {"workflow": "greeting", "data": {"name": "Ada"}}
    GET  /workflows/instances/{id}       -> completed, data.greeting == "Hello, Ada!"
    GET  /workflows/definitions/greeting/graph

State lives in ``workflows.sqlite3`` next to where you start the server. The app has no
authentication, so it lets anonymous callers use the workflow API (``allow_anonymous=True``; the
app logs a warning at start-up): fine on your machine, never in production, where the API answers
anonymous callers with 401 (see docs/authorization.md).
"""

from __future__ import annotations

from litestar import Litestar, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from litestar_workflows import (
    BaseMachineStep,
    Edge,
    LocalExecutionEngine,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowPlugin,
    WorkflowPluginConfig,
)

__all__ = ("Greet", "Shout", "app", "create_app", "greeting", "say_hello")


class Greet(BaseMachineStep):
    """Write a greeting for ``name``."""

    name = "greet"

    async def execute(self, context: WorkflowContext) -> str:
        greeting = f"Hello, {context.get('name', 'world')}!"
        context.set("greeting", greeting)
        return greeting


class Shout(BaseMachineStep):
    """Say it louder."""

    name = "shout"

    async def execute(self, context: WorkflowContext) -> str:
        loud = str(context.get("greeting")).upper()
        context.set("shouted", loud)
        return loud


greeting = WorkflowDefinition(
    name="greeting",
    version="1",
    description="Greet someone, then shout it.",
    steps={"greet": Greet(), "shout": Shout()},
    edges=[Edge("greet", "shout")],
    initial_step="greet",
    terminal_steps={"shout"},
)


@post("/hello/{name:str}")
async def say_hello(name: FromPath[str], workflow_engine: NamedDependency[LocalExecutionEngine]) -> dict[str, str]:
    """Your own handlers get the engine by dependency injection."""
    instance = await workflow_engine.start_workflow("greeting", {"name": name})
    return {"instance_id": str(instance.id)}


def create_app(config: WorkflowPluginConfig | None = None) -> Litestar:
    """The app; tests pass a config with in-memory persistence."""
    return Litestar(
        route_handlers=[say_hello],
        # allow_anonymous: local development only, since this app authenticates nobody.
        plugins=[WorkflowPlugin(config or WorkflowPluginConfig(workflows=[greeting], allow_anonymous=True))],
    )


app = create_app()
