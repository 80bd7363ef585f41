"""A kill -9 between a child's completion and its parent's resume loses nothing.

The worker SIGKILLs its own process right after the commit that completes the child, before it
publishes or runs anything that commit made runnable. The child's last change and the parent's
resume are one commit, so the restarted process finds the parent with its next step runnable,
and finishes it: the child's output merged, the step after the call run once, one child.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from litestar_workflows import StepStatus, WorkflowInstanceData, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence
from tests.durability.test_kill import ROOT, environment

pytestmark = pytest.mark.slow


def worker(mode: str, url: str, log: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.durability.subworkflow_worker", mode, "--url", url, "--log", str(log)]
    return subprocess.run(
        command, check=False, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=120
    )


async def stored(url: str) -> list[WorkflowInstanceData]:
    persistence = SQLAlchemyPersistence(url=url)
    try:
        found = []
        for instance in await persistence.list_instances():
            loaded = await persistence.load_instance(instance.id)
            assert loaded is not None
            found.append(loaded)
        return found
    finally:
        await persistence.close()


def test_kill_nine_between_the_childs_end_and_the_parents_resume_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "ship.log"
    killed = worker("start", database_url, log)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [parent] = [instance for instance in asyncio.run(stored(database_url)) if instance.parent_id is None]
    assert parent.status is WorkflowStatus.RUNNING and parent.active_steps == ["ship"]  # resumed, not yet run
    assert not log.exists()

    recovered = worker("recover", database_url, log)
    assert recovered.returncode == 0 and "all done" in recovered.stdout, recovered.stderr

    instances = asyncio.run(stored(database_url))
    [parent] = [instance for instance in instances if instance.parent_id is None]
    [child] = [instance for instance in instances if instance.parent_id == parent.id]
    assert (parent.status, child.status) == (WorkflowStatus.COMPLETED, WorkflowStatus.COMPLETED)
    assert parent.data == {"total": 21, "recorded": True, "quoted": 42, "shipped": True}
    succeeded = [e.step_name for e in parent.context.step_history if e.status is StepStatus.SUCCEEDED]
    assert succeeded == ["record", "price", "ship"]
    [shipped] = log.read_text().splitlines()  # the step after the call ran once, in the restarted process
    assert shipped.endswith(f"shipped {parent.id}")
