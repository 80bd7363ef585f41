"""Identifiers of new instances and tasks: random (version 4) UUIDs, made without ``uuid.uuid4``'s overhead."""

from __future__ import annotations

import os
from uuid import UUID, SafeUUID

__all__ = ("random_uuid",)

_VERSION_MASK = ~(0xC000 << 48 | 0xF000 << 64)
_VERSION_4 = 0x8000 << 48 | 0x4000 << 64
"""RFC 4122 variant and version 4 bits, set as ``UUID(..., version=4)`` sets them."""

_new = object.__new__
_set = object.__setattr__
_random_bytes = os.urandom
_to_int = int.from_bytes
_UNKNOWN = SafeUUID.unknown


def random_uuid() -> UUID:
    """A random UUID from the OS's CSPRNG: what ``uuid.uuid4()`` returns, in about half the time.

    ``uuid4`` builds the UUID through ``UUID.__init__``, whose argument handling costs more than
    reading the 16 random bytes; one is made per workflow started. This sets the two attributes
    ``UUID.__init__`` itself sets (``UUID`` is immutable through normal assignment).
    """
    uid: UUID = _new(UUID)
    _set(uid, "int", _to_int(_random_bytes(16)) & _VERSION_MASK | _VERSION_4)
    _set(uid, "is_safe", _UNKNOWN)
    return uid
