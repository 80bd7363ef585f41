"""The wheel, installed with the LOWEST version of every runtime dependency range, runs a Litestar app.

This is what proves the lower bounds in pyproject.toml: a fresh virtualenv, the built wheel with its
postgres and ui extras, a constraints file pinning each ``name>=X`` dependency to ``name==X`` (pip
downloads them), then a small app with the plugin that starts an instance and completes its task
over HTTP, and shows the UI's inbox (its templates and static files come from the wheel).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOWER_BOUND = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)")

APP = """
from litestar import Litestar
from litestar.testing import TestClient

from litestar_workflows import (
    BaseHumanStep, BaseMachineStep, Edge, UIConfig, WorkflowDefinition, WorkflowPlugin, WorkflowPluginConfig,
)
from litestar_workflows.core import Identity


class Submit(BaseMachineStep):
    name = "submit"

    async def execute(self, context):
        context.set("submitted", True)


class Hello:
    name = "hello"
    version = "1"
    description = "submit, then approve"

    @classmethod
    def get_definition(cls):
        approve = BaseHumanStep(
            "approve", form_schema={"type": "object", "properties": {"approved": {"type": "boolean"}}}
        )
        return WorkflowDefinition(
            "hello", "1", "", {"submit": Submit(), "approve": approve},
            [Edge("submit", "approve")], initial_step="submit", terminal_steps={"approve"},
        )


def caller(connection):
    return Identity(connection.headers["x-user"])


config = WorkflowPluginConfig(workflows=[Hello], database_url=DATABASE_URL, identity_resolver=caller, ui=UIConfig())
app = Litestar(plugins=[WorkflowPlugin(config)])
with TestClient(app) as client:
    client.headers["X-User"] = "ann"
    # the ui extra: the wheel's templates render with the lowest Jinja2, its vendored scripts are served
    inbox = client.get("/workflows/ui/")
    assert inbox.status_code == 200 and "<h1>Inbox</h1>" in inbox.text, inbox.text
    assert client.get("/workflows/ui/static/htmx.min.js").status_code == 200
    started = client.post("/workflows/instances", json={"workflow": "hello", "data": {"amount": 5}})
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]
    for _ in range(200):
        tasks = client.get("/workflows/tasks").json()
        if tasks["items"]:
            break
    task_id = tasks["items"][0]["id"]
    done = client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True})
    assert done.status_code in (200, 201), done.text
    final = client.get(f"/workflows/instances/{instance_id}").json()
    print(final["status"], final["data"])
"""


def lower_bounds() -> list[str]:
    """``name==X`` for every runtime dependency declared ``name>=X`` (and for the postgres and ui extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    declared = [*project["dependencies"], *extras["postgres"], *extras["ui"]]
    pins: list[str] = []
    for requirement in declared:
        match = LOWER_BOUND.match(requirement)
        assert match, f"{requirement!r} has no lower bound"
        pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


def run(*command: str | Path, cwd: Path) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_every_runtime_dependency_is_a_range_not_a_pin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    for requirement in [*project["dependencies"], *extras["postgres"], *extras["ui"]]:
        assert "==" not in requirement, requirement
        assert LOWER_BOUND.match(requirement), requirement
    assert not any("uvicorn" in requirement for requirement in project["dependencies"])
    assert (ROOT / "litestar_workflows" / "py.typed").is_file()


@pytest.mark.slow
def test_the_wheel_runs_an_app_with_the_lowest_dependency_versions(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", wheels, ROOT, cwd=tmp_path)
    (wheel,) = wheels.glob("litestar_workflows-*.whl")
    constraints = tmp_path / "lowest.txt"
    constraints.write_text("\n".join(lower_bounds()) + "\n", encoding="utf-8")
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--constraint", constraints, f"{wheel}[postgres,ui]", cwd=tmp_path)
    installed = run(python, "-m", "pip", "freeze", cwd=tmp_path).lower().replace("_", "-")
    for pin in lower_bounds():
        assert pin.lower().replace("_", "-") in installed, f"{pin} not installed:\n{installed}"
    assert "py.typed" in run(
        python, "-c", "import litestar_workflows, os; print(os.listdir(litestar_workflows.__path__[0]))", cwd=tmp_path
    )
    script = tmp_path / "app.py"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'lowest.sqlite3'}"
    script.write_text(f"DATABASE_URL = {database_url!r}\n{APP}", encoding="utf-8")
    output = run(python, "-W", "error::DeprecationWarning:litestar_workflows", script, cwd=tmp_path)
    assert output.strip() == "completed {'amount': 5, 'submitted': True, 'approved': True}"
