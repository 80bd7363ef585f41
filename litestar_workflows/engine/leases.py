"""Leases, recovery and polling: what keeps committed work moving when processes come and go.

An engine advances only instances whose lease it holds. :meth:`LeaseLoops.recover` claims
running instances with due work whose lease is free or expired (a crashed process, a timer that
fell due) and dispatches their runnable tokens; :meth:`LeaseLoops.start` runs that claim every
``poll_interval`` and renews held leases every third of ``lease_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from uuid import UUID

from litestar_workflows.core.exceptions import DatabaseUnavailableError
from litestar_workflows.core.types import TokenStatus, WorkflowStatus
from litestar_workflows.engine.runtime import InstanceRuntime

__all__ = ("LeaseLoops",)

logger = logging.getLogger("litestar_workflows.engine")


class LeaseLoops(InstanceRuntime):
    """Recovery, the claim and renew loops, and stopping (a base of ``LocalExecutionEngine``)."""

    poll_interval: float
    _background: list[asyncio.Task[None]]
    _lease_seconds: float

    async def start(self) -> int:
        """Resume committed work and keep claiming it; returns how many instances were resumed.

        Recovery is the same claim that runs every ``poll_interval``: running instances with a
        due token whose lease is free or expired (a crashed process), including timers that
        fell due while no engine was up. WAITING instances stay waiting. Logs how many were
        resumed (INFO), whoever starts the engine: the app, a worker script, a CLI command.
        The web role (``engine.roles``) recovers nothing and runs no loop: it holds no leases.
        """
        if not self.rules.recovers:
            return 0
        resumed = await self.recover()
        if resumed:
            logger.info("resumed %d workflow instance(s) left running by a stopped or crashed engine", resumed)
        if not self._background:
            loop = asyncio.get_running_loop()
            self._background = [
                loop.create_task(self._poll_forever(), name="litestar_workflows.claim"),
                loop.create_task(self._renew_forever(), name="litestar_workflows.renew"),
            ]
        return resumed

    @property
    def loops(self) -> dict[str, bool]:
        """Whether each background loop runs: ``claim`` (recovery, timers) and ``renew`` (leases).

        Empty until :meth:`start` (the CLI runs an engine without them) and after :meth:`stop`.
        """
        return {task.get_name().rpartition(".")[2]: not task.done() for task in self._background}

    async def recover(self) -> int:
        """Claim and dispatch every instance with due work and a free or expired lease, once.

        With a ``recovery_grace``, only work due (and leases expired) that long ago is claimed:
        until then it is the dispatcher's (a queue delivers it to some worker).
        """
        resumed = 0
        grace = timedelta(seconds=self.rules.recovery_grace)
        while True:
            now = self._clock()
            claimed = await self.persistence.claim_runnable(self.owner_id, now - grace, self._lease_until(now), 200)
            # Instances this engine is advancing right now dispatch their own next steps. One it
            # holds with nothing running here has a due token nobody runs (a stale attempt of a
            # step was committed by an engine whose lease had expired, after this one took the
            # instance over and found nothing to run): it is resumed like a claimed one.
            fresh = [instance_id for instance_id in claimed if not self._advancing(instance_id)]
            for instance_id in fresh:
                state = await self.persistence.load_instance(instance_id)
                if state is None or state.status is not WorkflowStatus.RUNNING:
                    continue
                record = self._record(instance_id)
                record.leased = True
                record.state = state
                for token in state.tokens:
                    if token.status is TokenStatus.READY:
                        self.dispatcher.dispatch(instance_id, token.id, token.not_before)
                resumed += 1
            if len(claimed) < 200 or not fresh:
                return resumed

    async def stop(self, grace_period: float = 5.0) -> None:
        """Stop taking work; running steps get ``grace_period`` seconds, the rest is left to recovery.

        Leases are released, so another engine can take the instances over at once.
        """
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background = []
        await self.dispatcher.close(grace_period)
        await self.persistence.release_leases(self.owner_id)
        for key, record in list(self._runtime.items()):
            record.leased = False
            record.state = None
            self._prune(UUID(int=key), record)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.recover()
            except DatabaseUnavailableError as exc:  # no traceback: it says nothing the message does not
                logger.warning("claiming work failed: %s; retrying in %ss", exc, self.poll_interval)
            except Exception:
                logger.exception("claiming work failed; retrying in %ss", self.poll_interval)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            held = [UUID(int=key) for key, record in self._runtime.items() if record.leased]
            if not held:
                continue
            try:
                await self.persistence.renew_leases(self.owner_id, held, self._lease_until(self._clock()))
            except DatabaseUnavailableError as exc:
                logger.warning("renewing leases failed: %s", exc)
            except Exception:
                logger.exception("renewing leases failed")

    @property
    def lease_seconds(self) -> float:
        """How long a lease lasts without renewal (may be changed on a running engine)."""
        return self._lease_seconds

    @lease_seconds.setter
    def lease_seconds(self, seconds: float) -> None:
        self._lease_seconds = seconds
        self._lease_delta = timedelta(seconds=seconds)
