"""In-memory throughput (W1: three machine steps a -> b -> c) against litestar-workflows 0.3.3.

Usage: python -m benchmarks.inmemory_vs_peer [--n 10000] [--runs 3] [--peer-python /tmp/peer033/bin/python]

Ours: start ``n`` instances of W1 on the in-memory engine, then ``wait_for`` each (every step is
committed through ``WorkflowPersistence.commit`` and yields to the event loop). The peer: the
same definition on 0.3.3's ``LocalExecutionEngine``, run by the peer's interpreter from a script
embedded here (0.3.3 has no ``wait_for``; its run tasks are gathered instead). Each run is a fresh
process, so both sides pay the same interpreter start-up and garbage-collector state; the median
of ``--runs`` runs is reported for each, then the ratio ours/peer.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

_OURS = """
import asyncio, sys, time
from benchmarks.workloads import three_step_workflow
from litestar_workflows import LocalExecutionEngine, WorkflowRegistry, WorkflowStatus

async def main(n):
    registry = WorkflowRegistry()
    definition = three_step_workflow()
    registry.register_definition(definition)
    engine = LocalExecutionEngine(registry)
    started = time.perf_counter()
    ids = [(await engine.start_workflow(definition, {})).id for _ in range(n)]
    for instance_id in ids:
        state = await engine.wait_for(instance_id, 60)
        assert state.status is WorkflowStatus.COMPLETED, state
    print(n / (time.perf_counter() - started))

asyncio.run(main(int(sys.argv[1])))
"""

_PEER = """
import asyncio, sys, time
from litestar_workflows import BaseMachineStep, Edge, LocalExecutionEngine, WorkflowDefinition, WorkflowRegistry

class SetOne(BaseMachineStep):
    async def execute(self, context):
        context.set(self.name, 1)

async def main(n):
    definition = WorkflowDefinition(
        name="w1", version="1.0.0", description="",
        steps={"a": SetOne("a"), "b": SetOne("b"), "c": SetOne("c")},
        edges=[Edge("a", "b"), Edge("b", "c")], initial_step="a", terminal_steps={"c"},
    )

    class W1:
        @classmethod
        def get_definition(cls):
            return definition

    engine = LocalExecutionEngine(WorkflowRegistry())
    started = time.perf_counter()
    tasks = []
    for _ in range(n):
        instance = await engine.start_workflow(W1, {})
        tasks.append(engine._running[instance.id])
    await asyncio.gather(*tasks)
    assert str(instance.status.value) == "completed", instance.status
    print(n / (time.perf_counter() - started))

asyncio.run(main(int(sys.argv[1])))
"""


def _run(python: str, script: str, n: int, cwd: Path) -> float:
    output = subprocess.run([python, "-c", script, str(n)], cwd=cwd, check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peer-python", default="/tmp/peer033/bin/python")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    ours: list[float] = []
    peer: list[float] = []
    for _ in range(args.runs):  # interleaved, so both sides see the same machine load
        ours.append(_run(sys.executable, _OURS, args.n, root))
        peer.append(_run(args.peer_python, _PEER, args.n, Path("/")))
    ours_median, peer_median = statistics.median(ours), statistics.median(peer)
    print(f"W1 in memory, {args.n} instances, median of {args.runs} runs")
    print(f"  ours (this checkout)      {ours_median:10.0f}/s   runs: {', '.join(f'{v:.0f}' for v in ours)}")
    print(f"  litestar-workflows 0.3.3  {peer_median:10.0f}/s   runs: {', '.join(f'{v:.0f}' for v in peer)}")
    print(f"  ratio ours/peer           {ours_median / peer_median:10.2f}")


if __name__ == "__main__":
    main()
