"""``litestar workflows ...`` through click's CliRunner."""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pytest
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from click.testing import CliRunner, Result
from litestar import Litestar
from litestar.cli.main import litestar_group

from litestar_workflows import WorkflowPlugin, WorkflowPluginConfig
from litestar_workflows.cli import workflows_group
from tests.web.conftest import definitions, make_config

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def app() -> Litestar:
    return Litestar(plugins=[WorkflowPlugin(make_config())])


def run(app: Litestar, *args: str) -> Result:
    return CliRunner().invoke(workflows_group, list(args), obj=app, catch_exceptions=False)


def test_list(app: Litestar) -> None:
    result = run(app, "list")
    assert result.exit_code == 0
    assert "approval  [1]  3 steps" in result.output
    assert "versioned  [1, 2]  2 steps" in result.output


def test_start_status_tasks_complete(app: Litestar) -> None:
    started = run(app, "start", "approval", "--data", '{"amount": 12}')
    assert started.exit_code == 0, started.output
    assert "waiting at approve" in started.output
    instance_id = UUID_RE.findall(started.output)[0]

    status = run(app, "status", instance_id)
    assert status.exit_code == 0
    assert f"instance {instance_id} (approval 1): waiting" in status.output
    assert '"amount": 12' in status.output
    assert "submit: succeeded (attempt 1)" in status.output
    assert "(groups managers)" in status.output

    tasks = run(app, "tasks")
    assert tasks.exit_code == 0
    assert "approval/approve" in tasks.output
    assert "1 task(s)" in tasks.output
    task_id = UUID_RE.findall(tasks.output)[0]
    assert "0 task(s)" in run(app, "tasks", "--assignee", "nobody").output

    refused = run(app, "complete", task_id, "--user", "bob", "--data", '{"approved": "yes"}')
    assert refused.exit_code == 1
    assert "does not match its form" in refused.output

    done = run(app, "complete", task_id, "--user", "bob", "--data", '{"approved": true}')
    assert done.exit_code == 0, done.output
    assert f"instance {instance_id}: completed" in done.output
    after = run(app, "status", instance_id)
    assert "approve: succeeded (attempt 1) by bob" in after.output
    assert "1 task(s)" in run(app, "tasks", "--status", "completed").output


def test_graph(app: Litestar) -> None:
    result = run(app, "graph", "approval")
    assert result.exit_code == 0
    assert result.output.startswith("flowchart TD")
    assert run(app, "graph", "versioned", "--version", "1").output.count("-->") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "nope"], "workflow 'nope' is not registered"),
        (["start", "auto", "--data", "{"], "not valid JSON"),
        (["start", "auto", "--data", "[1]"], "must be a JSON object"),
        (["status", "00000000-0000-0000-0000-000000000000"], "not found"),
        (["status", "42"], "not a valid UUID"),
        (["graph", "nope"], "not registered"),
        (["complete", "00000000-0000-0000-0000-000000000000", "--user", "x"], "not found"),
        (["complete", "00000000-0000-0000-0000-000000000000"], "Missing option '--user'"),
    ],
)
def test_errors_are_messages_not_tracebacks(app: Litestar, args: list[str], message: str) -> None:
    result = run(app, *args)
    assert result.exit_code != 0
    assert message in result.output


def test_without_an_app_the_cli_says_how_to_run_it() -> None:
    result = CliRunner().invoke(workflows_group, ["list"])
    assert result.exit_code == 2
    assert "litestar --app module:app workflows" in result.output


def test_through_the_litestar_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITESTAR_APP", "tests.web.cli_app:app")
    runner = CliRunner()
    listed = runner.invoke(litestar_group, ["workflows", "list"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert "approval" in listed.output
    started = runner.invoke(litestar_group, ["workflows", "start", "auto"], catch_exceptions=False)
    assert "completed" in started.output
    help_text = runner.invoke(litestar_group, ["--help"]).output
    assert "workflows" in help_text


def test_cli_on_sqlite_sees_what_the_app_wrote(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    app = Litestar(plugins=[WorkflowPlugin(WorkflowPluginConfig(workflows=definitions(), database_url=url))])
    started = run(app, "start", "approval")
    instance_id = UUID_RE.findall(started.output)[0]
    # another process (a new app object on the same file) sees the instance and its task
    other = Litestar(plugins=[WorkflowPlugin(WorkflowPluginConfig(workflows=definitions(), database_url=url))])
    assert "waiting" in run(other, "status", instance_id).output
    task_id = UUID_RE.findall(run(other, "tasks").output)[0]
    assert "completed" in run(other, "complete", task_id, "--user", "bob", "--data", '{"approved": true}').output


def test_cli_on_the_host_database_closes_its_connections(database_url: str) -> None:
    # Without the app's lifespan nothing else disposes the host's engine: each command must, or
    # its pooled connection is garbage-collected unclosed (SQLite) or unusable by the next
    # command's event loop (PostgreSQL).
    host = SQLAlchemyAsyncConfig(connection_string=database_url)
    config = WorkflowPluginConfig(workflows=definitions(), sqlalchemy_config=host, create_all=True)
    app = Litestar(plugins=[SQLAlchemyPlugin(config=host), WorkflowPlugin(config)])
    started = run(app, "start", "approval")
    assert "waiting at approve" in started.output
    task_id = UUID_RE.findall(run(app, "tasks").output)[0]
    done = run(app, "complete", task_id, "--user", "bob", "--data", '{"approved": true}')
    assert "completed" in done.output
    assert host.engine_instance is not None
    assert "Connections in pool: 0" in host.engine_instance.pool.status()  # nothing left open
    gc.collect()  # an unclosed aiosqlite connection would warn now (an error under -W error)
