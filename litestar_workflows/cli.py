"""``litestar workflows ...``: inspect and drive workflows from the command line.

The commands work on the app's database through the plugin's persistence, so they see what the
running app sees. ``start`` and ``complete`` run the following machine steps in the CLI process
until the instance waits or ends (or ``--wait`` runs out); anything left is resumed by the app.
``complete`` is an operator tool: it records ``--user`` as the completing user without the
API's permission checks or claims (``engine.complete_task`` with a plain user id); the task must
still be open.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import anyio
import click
import msgspec

from litestar_workflows.core.exceptions import WorkflowsError
from litestar_workflows.core.types import TaskStatus
from litestar_workflows.engine.engine import LocalExecutionEngine
from litestar_workflows.engine.queries import TaskQuery

if TYPE_CHECKING:
    from litestar_workflows.plugin import WorkflowPlugin

__all__ = ("workflows_group",)

T = TypeVar("T")


def _plugin(ctx: click.Context) -> WorkflowPlugin:
    """The app's ``WorkflowPlugin`` (the app comes from Litestar's CLI environment, or is the ``obj``)."""
    from litestar import Litestar

    from litestar_workflows.plugin import WorkflowPlugin

    obj = ctx.find_root().obj
    if obj is not None and not isinstance(obj, Litestar) and not hasattr(obj, "app") and callable(obj):
        obj = ctx.find_root().obj = obj()  # Litestar's CLI loads the app lazily
    app = obj if isinstance(obj, Litestar) else getattr(obj, "app", None)
    if not isinstance(app, Litestar):
        msg = "no Litestar app found; run as `litestar --app module:app workflows ...`"
        raise click.UsageError(msg)
    plugin = app.plugins.get(WorkflowPlugin)
    assert isinstance(plugin, WorkflowPlugin)
    return plugin


def _run(ctx: click.Context, work: Callable[[LocalExecutionEngine], Awaitable[T]]) -> T:
    """Run ``work`` with an engine on the app's persistence; engine errors become CLI errors."""
    plugin = _plugin(ctx)

    async def main() -> T:
        try:
            async with plugin.run_engine(recover=False) as engine:
                return await work(engine)
        finally:
            await _close_host_database(plugin)

    try:
        return anyio.run(main)
    except WorkflowsError as exc:
        raise click.ClickException(str(exc)) from exc


async def _close_host_database(plugin: WorkflowPlugin) -> None:
    """Close the connections the command opened on the host's database (``sqlalchemy_config``).

    In the app, advanced-alchemy's lifespan disposes that engine; the CLI runs without the app's
    lifespan, so nothing else would, and each command runs on an event loop of its own: pooled
    connections would be left to the garbage collector (aiosqlite) or be unusable by the next
    command (asyncpg). Disposing keeps the engine usable; it only empties its pool.
    """
    config = plugin.config.sqlalchemy_config
    if config is not None and config.engine_instance is not None:
        await config.engine_instance.dispose()


def _json_object(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        msg = f"not valid JSON: {exc}"
        raise click.BadParameter(msg) from exc
    if not isinstance(data, dict):
        msg = "must be a JSON object, such as '{\"amount\": 120}'"
        raise click.BadParameter(msg)
    return data


def _dump(value: Any) -> str:
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()


async def _settle(engine: LocalExecutionEngine, instance_id: UUID, wait: float) -> None:
    if wait > 0:
        try:
            await engine.wait_for(instance_id, timeout=wait)
        except TimeoutError:
            click.echo(f"(still running after {wait}s; the app continues it)")


@click.group(name="workflows")
def workflows_group() -> None:
    """Workflow definitions, instances and tasks."""


@workflows_group.command(name="list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """List the registered workflows."""
    registry = _plugin(ctx).registry
    definitions = registry.list_definitions(active_only=True)
    if not definitions:
        click.echo("no workflows registered")
        return
    for definition in definitions:
        versions = ", ".join(registry.get_versions(definition.name))
        click.echo(f"{definition.name}  [{versions}]  {len(definition.steps)} steps  {definition.description}")


@workflows_group.command(name="start")
@click.argument("name")
@click.option("--data", callback=_json_object, help="Initial data, a JSON object.")
@click.option("--version", "version", default=None, help="Version to start (default: the latest).")
@click.option("--wait", default=5.0, show_default=True, help="Seconds to run machine steps before returning.")
@click.pass_context
def start_command(ctx: click.Context, name: str, data: dict[str, Any], version: str | None, wait: float) -> None:
    """Start an instance of workflow NAME."""

    async def work(engine: LocalExecutionEngine) -> None:
        instance = await engine.start_workflow(name, data, version=version)
        await _settle(engine, instance.id, wait)
        state = await engine.get_instance(instance.id)
        click.echo(f"started {state.id}: {state.status.value} at {', '.join(state.active_steps) or '-'}")

    _run(ctx, work)


@workflows_group.command(name="status")
@click.argument("instance_id", type=click.UUID)
@click.pass_context
def status_command(ctx: click.Context, instance_id: UUID) -> None:
    """Show an instance: status, active steps, data, history and open tasks."""

    async def work(engine: LocalExecutionEngine) -> None:
        state = await engine.get_instance(instance_id)
        tasks = await engine.persistence.list_tasks(instance_id=instance_id, status=TaskStatus.OPEN)
        click.echo(f"instance {state.id} ({state.workflow_name} {state.workflow_version}): {state.status.value}")
        if state.error:
            click.echo(f"error: {state.error}")
        click.echo(f"active steps: {', '.join(state.active_steps) or '-'}")
        click.echo(f"data: {_dump(state.data)}")
        click.echo("history:")
        for execution in state.context.step_history:
            by = f" by {execution.completed_by}" if execution.completed_by else ""
            click.echo(f"  {execution.step_name}: {execution.status.value} (attempt {execution.attempt}){by}")
        for task in tasks:
            click.echo(f"open task {task.id}: {task.title} ({_holder(task.assignee, task.candidate_groups)})")

    _run(ctx, work)


def _holder(assignee: str | None, groups: list[str]) -> str:
    if assignee:
        return f"assignee {assignee}"
    if groups:
        return f"groups {', '.join(groups)}"
    return "anyone"


@workflows_group.command(name="tasks")
@click.option("--assignee", default=None, help="Only tasks assigned to this user.")
@click.option("--workflow", default=None, help="Only tasks of this workflow.")
@click.option(
    "--status",
    type=click.Choice([status.value for status in TaskStatus] + ["all"]),
    default=TaskStatus.OPEN.value,
    show_default=True,
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def tasks_command(ctx: click.Context, assignee: str | None, workflow: str | None, status: str, limit: int) -> None:
    """List human tasks."""

    async def work(engine: LocalExecutionEngine) -> None:
        query = TaskQuery(
            status=None if status == "all" else TaskStatus(status),
            assignee=assignee,
            workflow_name=workflow,
            limit=limit,
        )
        tasks, total = await engine.persistence.query_tasks(query)
        for task in tasks:
            click.echo(
                f"{task.id}  {task.status.value}  {task.workflow_name}/{task.step_name}  {task.title}  "
                f"({_holder(task.assignee, task.candidate_groups)})  instance {task.instance_id}"
            )
        click.echo(f"{total} task(s)")

    _run(ctx, work)


@workflows_group.command(name="complete")
@click.argument("task_id", type=click.UUID)
@click.option("--user", required=True, help="Who completes the task (recorded on it).")
@click.option("--data", callback=_json_object, help="The form data, a JSON object.")
@click.option("--wait", default=5.0, show_default=True, help="Seconds to run machine steps before returning.")
@click.pass_context
def complete_command(ctx: click.Context, task_id: UUID, user: str, data: dict[str, Any], wait: float) -> None:
    """Complete human task TASK_ID as --user (an operator action: no permission or claim check)."""

    async def work(engine: LocalExecutionEngine) -> None:
        state = await engine.complete_task(task_id, user, data)
        await _settle(engine, state.id, wait)
        state = await engine.get_instance(state.id)
        click.echo(f"completed {task_id}; instance {state.id}: {state.status.value}")

    _run(ctx, work)


@workflows_group.command(name="graph")
@click.argument("name")
@click.option("--version", "version", default=None, help="Version to draw (default: the latest).")
@click.pass_context
def graph_command(ctx: click.Context, name: str, version: str | None) -> None:
    """Print workflow NAME as a Mermaid flowchart."""
    try:
        definition = _plugin(ctx).registry.get_definition(name, version)
    except WorkflowsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(definition.to_mermaid())
