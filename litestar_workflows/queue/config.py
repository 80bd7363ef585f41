"""``WorkflowQueueConfig``: run steps on SAQ workers, with events shared through Litestar Channels.

Imports nothing of SAQ: the ``saq`` extra is needed only when a queue is configured and used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from litestar.exceptions import ImproperlyConfiguredException

__all__ = ("QueueBackend", "WorkflowQueueConfig")

QueueBackend = Literal["redis", "postgres"]


@dataclass
class WorkflowQueueConfig:
    """Where the queue lives and how its workers run: ``WorkflowPluginConfig(queue=WorkflowQueueConfig(url))``.

    With a queue, ``litestar run`` serves the API in the web role (it commits and enqueues, and
    runs no steps) and ``litestar workers run`` runs the worker role (steps, leases, recovery).
    Only ids are enqueued: the workflow tables stay the single source of truth, and work a queue
    loses (a dead worker's job, a failed enqueue, a flushed Redis) is found by the workers'
    recovery after ``recovery_grace`` seconds.
    """

    url: str
    """The queue's (and the event channel's) server: ``redis://host:6379/0`` or ``postgresql://user@host/db``
    (a plain libpq URL, not an SQLAlchemy one)."""
    name: str = "litestar_workflows"
    """Name of the SAQ queue (several apps may share one server under different names)."""
    concurrency: int = 10
    """Jobs one worker process runs at once (each job is one token; its branch goes on in process)."""
    pool_max_size: int | None = None
    """PostgreSQL only: connections of a process's queue pool. Every running job borrows one for its
    updates (start, heartbeat, finish), all at once in a burst, and SAQ keeps some for itself (its
    LISTEN, the sweep lock, dequeuing): it must exceed ``concurrency``, or jobs wait for a
    connection. None: ``concurrency + 5``."""
    recovery_grace: float = 10.0
    """Seconds a worker leaves due work to the queue before its recovery claims it (and a dead
    worker's lease must have expired that long ago). Lower it for faster repair of lost jobs;
    raise it if the queue is often slower than that to deliver."""
    heartbeat: int = 60
    """SAQ heartbeat of a job, in seconds; a running job touches itself every third of it. A job
    whose worker died is swept by SAQ after this long, which frees the instance's ``group_key``
    on PostgreSQL. (SAQ's job ``timeout`` is off: a step's own ``timeout`` is the engine's business,
    and SAQ cancelling a job would cancel a step the engine still holds the lease of.)"""
    held_retry_delay: float = 1.0
    """Seconds before a job whose instance is leased by another worker tries again (doubling per
    try, up to the engine's ``lease_seconds``): the job is rescheduled, never dropped."""
    channel: str = "litestar_workflows.events"
    """Channel (Redis pub/sub, or PostgreSQL ``LISTEN/NOTIFY``) on which every process publishes the
    engine's events: the web role's event streams and ``wait_for`` see steps run by any worker."""

    def __post_init__(self) -> None:
        if not self.url.startswith(("redis://", "rediss://", "postgresql://", "postgres://")):
            msg = (
                f"WorkflowQueueConfig.url must be a redis:// or postgresql:// URL, got {self.url!r} "
                "(for PostgreSQL give the libpq form, without '+asyncpg')"
            )
            raise ImproperlyConfiguredException(msg)
        if self.concurrency < 1 or self.heartbeat < 1 or self.recovery_grace < 0 or self.held_retry_delay <= 0:
            msg = (
                "WorkflowQueueConfig: concurrency and heartbeat must be at least 1, recovery_grace not negative "
                f"and held_retry_delay positive (got {self.concurrency}, {self.heartbeat}, {self.recovery_grace}, "
                f"{self.held_retry_delay})"
            )
            raise ImproperlyConfiguredException(msg)
        if self.pool_max_size is not None and self.pool_max_size <= self.concurrency:
            msg = (
                f"WorkflowQueueConfig.pool_max_size ({self.pool_max_size}) must exceed concurrency "
                f"({self.concurrency}): running jobs borrow one each at once, and SAQ keeps a few of its own"
            )
            raise ImproperlyConfiguredException(msg)

    @property
    def backend(self) -> QueueBackend:
        """``redis`` or ``postgres``, from the URL."""
        return "redis" if self.url.startswith("redis") else "postgres"

    @property
    def libpq_url(self) -> str:
        """The URL as psycopg and asyncpg take it (``postgres://`` spelled ``postgresql://``)."""
        if self.url.startswith("postgres://"):
            return "postgresql://" + self.url.removeprefix("postgres://")
        return self.url
