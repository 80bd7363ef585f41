"""What an engine does in its process: serve and commit (web), run steps (worker), or both.

One app file serves both roles of a queue deployment: ``litestar run`` starts the web role
(commits starts, completions and cancels, then dispatches through the queue) and ``litestar
workers run`` the worker role (runs steps, holds leases, recovers lost work). Without a queue,
one process does both, as it always did. The engine consults :class:`RoleRules` and nothing else
to decide what it may do, so the rules live here, in one place.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ("EngineRole", "RoleRules", "TokenRun")


class EngineRole(enum.Enum):
    """Which half of the work an engine does."""

    WEB = "web"
    """Commits and dispatches; takes no leases, runs no claim or renew loop and no steps. A web
    process that held leases would keep instances from the workers, which could then run nothing."""
    WORKER = "worker"
    """Runs steps, holds leases while it does, and recovers work nobody runs (lost jobs, dead workers)."""
    BOTH = "both"
    """Today's in-process mode: one process serves, runs and recovers."""


class TokenRun(enum.Enum):
    """What :meth:`~litestar_workflows.LocalExecutionEngine.run_token` did with a token."""

    RAN = "ran"
    """Its step ran here (and the branch went on as far as it could)."""
    NOTHING_TO_RUN = "nothing_to_run"
    """The token is gone, not ready, not due yet (re-dispatched for its time) or running here already."""
    HELD_ELSEWHERE = "held_elsewhere"
    """Another live engine holds the instance's lease: try again later (it may have finished by then)."""


@dataclass(frozen=True, slots=True)
class RoleRules:
    """The engine's checks for its role, answered in one place."""

    role: EngineRole = EngineRole.BOTH
    recovery_grace: float = 0.0
    """Seconds a due token must have waited, and an expired lease must have been expired, before
    recovery claims it. A queue delivers work within this time; recovery is for work it lost."""

    @property
    def takes_leases(self) -> bool:
        """Commits take (and keep) the instance's lease while a token is due, to run it here."""
        return self.role is not EngineRole.WEB

    @property
    def runs_steps(self) -> bool:
        """``run_token`` may run steps in this process."""
        return self.role is not EngineRole.WEB

    @property
    def recovers(self) -> bool:
        """:meth:`start` claims due work left by others and keeps renewing its leases."""
        return self.role is not EngineRole.WEB

    def dispatches_unleased(self, held: bool) -> bool:
        """Dispatch a token due now although this engine does not hold the instance's lease.

        An engine that takes leases and did not get one knows another engine holds the instance
        and runs it. The web role never takes one: what it makes runnable goes to the queue.
        """
        return held or not self.takes_leases
