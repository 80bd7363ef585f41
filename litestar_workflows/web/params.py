"""Query parameters shared by the list endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeAlias, TypeVar

import msgspec
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.params import Body, QueryParameter

__all__ = ("MAX_OFFSET", "DateTimeQuery", "Limit", "Offset", "StrictJSONBody", "as_utc", "parse_datetime")

T = TypeVar("T")

StrictJSONBody: TypeAlias = Annotated[
    T, Body(media_type=RequestEncodingType.JSON, schema_extra={"additionalProperties": False})
]
"""A JSON body whose Struct forbids unknown fields: the schema says so too (a typo is a 400, not ignored)."""

MAX_OFFSET = 2**31 - 1
"""Largest ``offset`` accepted: larger ones would overflow the databases' integer (a 500 instead of a 400)."""

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Page size (1-500).")]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET, description="Items to skip.")]
DateTimeQuery = Annotated[
    str | None, QueryParameter(format="date-time", description="An RFC 3339 date-time; naive ones are read as UTC.")
]
"""A date-time query parameter, read by :func:`parse_datetime` (Litestar would also take ``0.0`` as a timestamp)."""


def parse_datetime(key: str, value: str | None) -> datetime | None:
    """The date-time in query parameter ``key`` (naive values read as UTC); a 400 naming ``key`` if it is not one."""
    if value is None:
        return None
    try:
        moment = msgspec.convert(value, datetime, strict=True)
    except msgspec.ValidationError:
        raise ValidationException(
            detail=f"Validation failed: query parameter {key!r} is not a date-time",
            extra=[{"key": key, "message": "Invalid RFC 3339 date-time", "source": "query"}],
        ) from None
    return as_utc(moment)


def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` with a time zone: naive query values are read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
