"""What the engine tells operators about failed steps: log records and the traceback it keeps.

Every failed attempt is logged on ``litestar_workflows.engine``: at WARNING while retries are
left, at ERROR (with the traceback) when the attempt fails the instance. The traceback text is
also recorded with the attempt (``StepExecution.traceback``) so the step history shows it after
the log has rotated away.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any
from uuid import UUID

__all__ = ("MAX_TRACEBACK_CHARS", "log_failed_attempt", "log_failed_instance", "traceback_text")

MAX_TRACEBACK_CHARS = 20_000
"""Longer tracebacks keep their start and their end (where the error is) and drop the middle."""

_HEAD_CHARS = 2_000
_ENGINE_FILE = str(Path(__file__).with_name("engine.py"))
"""Where the engine's frames come from (``traceback_text`` leaves them out)."""

logger = logging.getLogger("litestar_workflows.engine")


def traceback_text(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` (with its causes), storable in any database.

    It starts where the step's code starts: the engine's own frames that called the step are
    left out (they say nothing about the failure, and differ between the engine's paths). NUL
    characters are escaped (PostgreSQL refuses them in text) and very long tracebacks (deep
    recursion) are shortened in the middle.
    """
    start = exc.__traceback__
    while start is not None and start.tb_frame.f_code.co_filename == _ENGINE_FILE:
        start = start.tb_next
    if start is None:  # raised by the engine itself (a gateway without a branch): keep it all
        start = exc.__traceback__
    formatted = traceback.TracebackException(type(exc), exc, start, compact=True).format()
    text = "".join(formatted).replace("\x00", "\\x00")
    if len(text) <= MAX_TRACEBACK_CHARS:
        return text
    tail = MAX_TRACEBACK_CHARS - _HEAD_CHARS
    left_out = len(text) - MAX_TRACEBACK_CHARS
    return f"{text[:_HEAD_CHARS]}\n... ({left_out} characters left out) ...\n{text[-tail:]}"


def _fields(instance_id: UUID, workflow: str, version: str, step: str, attempt: int) -> dict[str, Any]:
    """The record's ``extra``: structured fields for log handlers that keep them (JSON logs)."""
    return {
        "workflow_instance_id": str(instance_id),
        "workflow": workflow,
        "workflow_version": version,
        "step": step,
        "attempt": attempt,
    }


def log_failed_attempt(
    instance_id: UUID, workflow: str, version: str, step: str, attempt: int, error: str, retry_in: float
) -> None:
    """A failed attempt that will be retried: WARNING, without the traceback (the history has it)."""
    logger.warning(
        "workflow instance %s (%s version %s): step %r failed on attempt %d: %s; retrying in %gs",
        instance_id,
        workflow,
        version,
        step,
        attempt,
        error,
        retry_in,
        extra=_fields(instance_id, workflow, version, step, attempt),
    )


def log_failed_instance(
    instance_id: UUID, workflow: str, version: str, step: str, attempt: int, error: str, traceback: str
) -> None:
    """An attempt that fails the instance (no retry left, or a fatal error): ERROR, with the traceback.

    The traceback goes into the message as text, not as ``exc_info``: a record that kept the
    exception (a handler buffering records) would keep the step's frames and context alive.
    """
    logger.error(
        "workflow instance %s (%s version %s) failed: step %r failed on attempt %d: %s\n%s",
        instance_id,
        workflow,
        version,
        step,
        attempt,
        error,
        traceback.rstrip(),
        extra=_fields(instance_id, workflow, version, step, attempt),
    )
