"""``Idempotency-Key`` for starting instances: a retried request gets the instance of the first.

The key does not live in a side table or a cache: it *is* the instance id. A start with a key
uses ``uuid5(namespace, sha256(caller, key))`` as the id of the new instance and stores a
fingerprint of the request (workflow, version, data) in the instance's metadata. The engine's
idempotent start then lets the database decide: the instance's primary key admits one row, so of
any number of concurrent or repeated requests, in any number of processes, before or after a
restart, exactly one creates the instance. The others find it and compare fingerprints: the same
request gets the existing instance (replayed), another request with the same key gets a 422,
following the IETF ``Idempotency-Key`` header draft. Keys are scoped to the caller (two callers
may use the same key) and are remembered as long as the instance exists.

Anonymous callers (when the app admits them) cannot be told apart, so their keys cannot be scoped
to them: for them the id is derived from the key *and* the request's fingerprint. Different
requests never share an instance, whoever sends them; the same request with the same key is one
instance for every anonymous caller (all of whom see the instances started anonymously anyway).
A key reused with another body starts another instance instead of answering 422.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid5

import msgspec
from litestar.exceptions import ClientException
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from litestar_workflows.core.exceptions import InstanceAlreadyExistsError, WorkflowsError
from litestar_workflows.engine.completion import WorkflowStart
from litestar_workflows.engine.engine import LocalExecutionEngine

__all__ = (
    "FINGERPRINT_METADATA_KEY",
    "IDEMPOTENCY_NAMESPACE",
    "IdempotencyKeyReusedException",
    "idempotent_instance_id",
    "request_fingerprint",
    "start_idempotently",
)

IDEMPOTENCY_NAMESPACE = UUID("4163e153-8961-4239-bac2-939d3a5e9cb2")
"""The ``uuid5`` namespace of instance ids derived from idempotency keys (never change it: ids
derived before and after would differ, and retries across an upgrade would start twice)."""

FINGERPRINT_METADATA_KEY = "idempotency_fingerprint"
"""Key of the request fingerprint in ``WorkflowContext.metadata``."""


class IdempotencyKeyReusedException(ClientException):
    """422: the ``Idempotency-Key`` was already used for a different request."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY


def _digest(*parts: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(parts, order="deterministic")).hexdigest()


def idempotent_instance_id(caller: str | None, key: str, *, fingerprint: str) -> UUID:
    """The id of the instance that ``caller`` starts with ``key`` (the same in every process).

    For an anonymous caller (None), the request's ``fingerprint`` is part of it: see the module's description.
    """
    if caller is None:
        return uuid5(IDEMPOTENCY_NAMESPACE, _digest(None, key, fingerprint))
    return uuid5(IDEMPOTENCY_NAMESPACE, _digest(caller, key))


def request_fingerprint(workflow: str, version: str | None, data: Mapping[str, Any]) -> str:
    """A digest of what was asked for; object keys are sorted, so their order does not matter."""
    return _digest(workflow, version, dict(data))


async def start_idempotently(
    engine: LocalExecutionEngine,
    *,
    caller: str | None,
    key: str,
    workflow: str,
    version: str | None,
    request_data: Mapping[str, Any],
    initial_data: dict[str, Any],
    trusted_data: dict[str, Any] | None = None,
) -> tuple[WorkflowStart, bool]:
    """Start ``workflow`` once per (caller, key); returns (start, replayed).

    A first call's start holds the tasks its commit opened; a replay's holds the instance an
    earlier call started, as read now, and no tasks (which of them are open is read by the caller).

    ``request_data`` is the data as sent (fingerprinted); ``initial_data`` what the instance
    starts with; ``trusted_data`` server-side values such as the starting user (see
    ``start_workflow``). ``caller`` is recorded as the instance's ``started_by``.
    """
    fingerprint = request_fingerprint(workflow, version, request_data)
    instance_id = idempotent_instance_id(caller, key, fingerprint=fingerprint)
    try:
        started = await engine.start_workflow_detailed(
            workflow,
            initial_data,
            version=version,
            instance_id=instance_id,
            metadata={FINGERPRINT_METADATA_KEY: fingerprint},
            trusted_data=trusted_data,
            started_by=caller,
        )
    except InstanceAlreadyExistsError:
        pass
    except WorkflowsError:
        raise  # unknown workflow, invalid data: nothing was started
    except Exception:
        # The commit may have happened even though the answer was lost (a connection dropped
        # after COMMIT): if the instance exists now, answer as for any repeat.
        if await engine.persistence.load_instance(instance_id) is None:
            raise
    else:
        return started, False
    existing = await engine.get_instance(instance_id)
    if existing.context.metadata.get(FINGERPRINT_METADATA_KEY) != fingerprint:
        raise IdempotencyKeyReusedException(
            detail="this Idempotency-Key was already used with a different request body "
            f"(it started instance {instance_id}); use a new key for a new request"
        )
    return WorkflowStart(existing, []), True
