"""Query parameters shared by the list endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar.params import QueryParameter

__all__ = ("Limit", "Offset", "as_utc")

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Page size (1-500).")]
Offset = Annotated[int, QueryParameter(ge=0, description="Items to skip.")]


def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` with a time zone: naive query values are read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
