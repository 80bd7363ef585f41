"""``Idempotency-Key`` for starting instances: a retried request gets the instance of the first.

The mapping key -> instance lives in a Litestar store (``app.stores``), so it is exactly as
durable and as shared as the store the app registers under the configured name. Keys are scoped
to the caller, and a key reused with a different request body is refused (422), following the
IETF ``Idempotency-Key`` header draft. Concurrent requests with the same key in one process are
serialised; across processes the store must be shared and the window between starting the
instance and recording the key is not atomic (see the report on the engine needing a
caller-chosen instance id to close it).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import msgspec
from litestar.exceptions import ClientException
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY
from litestar.stores.base import Store

__all__ = ("IdempotencyKeyReusedException", "IdempotencyKeys")


class IdempotencyKeyReusedException(ClientException):
    """422: the ``Idempotency-Key`` was already used for a different request."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY


class _Record(msgspec.Struct):
    instance_id: UUID
    fingerprint: str


class IdempotencyKeys:
    """Remembers which instance each (caller, key) started."""

    __slots__ = ("_locks", "store_name", "ttl")

    def __init__(self, store_name: str, ttl: int) -> None:
        self.store_name = store_name
        self.ttl = ttl
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @staticmethod
    def _digest(*parts: Any) -> str:
        return hashlib.sha256(msgspec.json.encode(parts, order="deterministic")).hexdigest()

    async def run_once(
        self,
        store: Store,
        caller: str | None,
        key: str,
        request_body: Any,
        start: Callable[[], Awaitable[UUID]],
    ) -> tuple[UUID, bool]:
        """Start through ``start`` unless ``key`` was seen; returns (instance id, replayed)."""
        scoped = self._digest(caller, key)
        fingerprint = self._digest(request_body)
        lock = self._acquire(scoped)
        try:
            async with lock:
                raw = await store.get(scoped)
                if raw is not None:
                    record = msgspec.json.decode(raw, type=_Record)
                    if record.fingerprint != fingerprint:
                        raise IdempotencyKeyReusedException(
                            detail="this Idempotency-Key was already used with a different request body"
                        )
                    return record.instance_id, True
                instance_id = await start()
                await store.set(scoped, msgspec.json.encode(_Record(instance_id, fingerprint)), expires_in=self.ttl)
                return instance_id, False
        finally:
            self._release(scoped)

    def _acquire(self, scoped: str) -> asyncio.Lock:
        lock, users = self._locks.get(scoped, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[scoped] = (lock, users + 1)
        return lock

    def _release(self, scoped: str) -> None:
        lock, users = self._locks[scoped]
        if users <= 1:
            del self._locks[scoped]
        else:
            self._locks[scoped] = (lock, users - 1)
