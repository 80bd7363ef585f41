"""One commit at a time on a SQLite file: this checkout against an earlier commit, runs alternating.

    python -m benchmarks.commits [--base dc09fa8] [--rounds 15] [--n 2000] [--folder /dev/shm]

What a workflow run one step at a time pays per commit, without the engine around it: each run
is a fresh process that advances one instance ``n`` times through ``SQLAlchemyPersistence.commit``
(a revision check, the instance row, the lease) and reports the median microseconds per
commit. The two checkouts take turns, in an order that alternates from round to round, and each
round gives the ratio this / base (below 1: this checkout is faster). The earlier commit is
checked out once into ``benchmarks/.versus/<commit>`` (shared with ``benchmarks.versus``).

On this machine's disk a commit's fsync takes milliseconds and varies tenfold from one second to
the next, so ``--folder /dev/shm`` (a tmpfs: the fsync returns at once) shows what the code
around the write costs: the hand-off to the writer thread, for instance. The measuring part
(``--drive``) uses only names every release since the SQL persistence has.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ("main",)

_RESULT = "BENCH-RESULT "


async def _drive(n: int, folder: str) -> float:
    """Median microseconds of ``n`` sequential commits of one instance (in the package on ``PYTHONPATH``)."""
    from datetime import UTC, datetime
    from uuid import uuid4

    import msgspec

    from litestar_workflows import WorkflowContext
    from litestar_workflows.core.models import Token, WorkflowInstanceData
    from litestar_workflows.core.types import WorkflowStatus
    from litestar_workflows.db import SQLAlchemyPersistence
    from litestar_workflows.engine.persistence import InstanceChange

    persistence = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{folder}/commits.sqlite3", create_all=True)
    now, instance_id = datetime.now(UTC), uuid4()
    context = WorkflowContext(instance_id, instance_id, {}, {}, "a", [], now)
    state = WorkflowInstanceData(
        id=instance_id,
        workflow_name="commits",
        workflow_version="1",
        status=WorkflowStatus.RUNNING,
        context=context,
        current_step="a",
        tokens=[Token("t1", "a")],
    )
    await persistence.commit(InstanceChange(state, -1))
    took: list[float] = []
    for _ in range(n):
        following = msgspec.structs.replace(state, revision=state.revision + 1)
        change = InstanceChange(following, state.revision, lease_owner="me", lease_until=now, now=now)
        began = time.perf_counter()
        await persistence.commit(change)
        took.append(time.perf_counter() - began)
        state = following
    await persistence.close()
    return statistics.median(took) * 1e6


def _run(root: Path, n: int, folder: str | None) -> float:
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PYTHONPATH"] = str(root)
    command = [sys.executable, str(Path(__file__).resolve()), "--drive", "--n", str(n)]
    if folder:
        command += ["--folder", folder]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=600)
    line = next(line for line in done.stdout.splitlines() if line.startswith(_RESULT))
    return float(json.loads(line.removeprefix(_RESULT))["microseconds"])


def _compare(args: argparse.Namespace) -> None:
    from benchmarks.systems import ROOT
    from benchmarks.versus import _checkout

    roots = {"this": ROOT, "base": _checkout(args.base)}
    ratios: list[float] = []
    print(f"sequential commits on SQLite, N={args.n:,} per run: this checkout / {args.base} (microseconds per commit)")
    for number in range(args.rounds):
        order = ["this", "base"] if number % 2 == 0 else ["base", "this"]
        took = {name: _run(roots[name], args.n, args.folder) for name in order}
        ratios.append(took["this"] / took["base"])
        print(f"  round {number + 1:>2}: this {took['this']:>7.1f}  base {took['base']:>7.1f}  ratio {ratios[-1]:.3f}")
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(
        f"this / base: median {statistics.median(ratios):.3f}"
        f" (middle half {quartiles[0]:.3f} to {quartiles[2]:.3f}, {len(ratios)} rounds; below 1: faster)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="dc09fa8", help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--n", type=int, default=2000, help="commits per run")
    parser.add_argument("--folder", default=None, help="where the SQLite files go (default: the temporary folder)")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.drive:
        _compare(args)
        return
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        microseconds = asyncio.run(_drive(args.n, folder))
    sys.stdout.write(_RESULT + json.dumps({"microseconds": microseconds}) + "\n")


if __name__ == "__main__":
    main()
