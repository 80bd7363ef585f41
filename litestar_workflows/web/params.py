"""Request bodies and query parameters as the API reads them.

Every JSON body is checked as it is decoded, before any handler sees it: invalid UTF-8, a body
too deeply nested for the decoder, a string or key holding a NUL character, or values nested
deeper than context values may be (``core.values.MAX_NESTING``) are a 400 naming the place.
So nothing the engine, a form schema or a database does afterwards meets such a body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias, TypeVar, cast

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.params import Body, QueryParameter

from litestar_workflows.core.values import MAX_NESTING, storable_problem

__all__ = (
    "BODY_NESTING",
    "EMPTY_BODY",
    "MAX_OFFSET",
    "NO_NUL",
    "DateTimeQuery",
    "Limit",
    "Offset",
    "StrictJSONBody",
    "TextQuery",
    "as_utc",
    "checked_request_class",
    "invalid_body",
    "parse_datetime",
)

T = TypeVar("T")

StrictJSONBody: TypeAlias = Annotated[
    T, Body(media_type=RequestEncodingType.JSON, schema_extra={"additionalProperties": False})
]
"""A JSON body whose Struct forbids unknown fields: the schema says so too (a typo is a 400, not ignored)."""

MAX_OFFSET = 2**31 - 1
"""Largest ``offset`` accepted: larger ones would overflow the databases' integer (a 500 instead of a 400)."""

NO_NUL = "^[^\\x00]*$"
"""The pattern of every string the API takes: no NUL character (no database column stores one,
and PostgreSQL refuses one even in a query)."""
TextQuery = Annotated[str | None, QueryParameter(pattern=NO_NUL)]
"""A string query parameter (a filter); a NUL character in it is a 400."""
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


BODY_NESTING = MAX_NESTING + 2
"""Levels of lists and objects a request body may nest: a context value's, inside the body's
``data`` object inside the body itself (``{"data": {"key": value}}``)."""


class _CheckedJSON(Request[Any, Any, Any]):
    """A request whose JSON body is refused with a 400 when the API could not store or process it."""

    async def json(self) -> Any:
        """The decoded body; a 400 for invalid UTF-8, NUL characters or nesting deeper than the API takes."""
        try:
            body = await super().json()
        except UnicodeDecodeError:
            raise invalid_body(self, "", "is not valid UTF-8") from None
        except RecursionError:  # msgspec stops at the interpreter's recursion limit
            raise invalid_body(self, "", "is nested too deeply") from None
        if body is None:  # a bare null (an empty body never gets here: see EMPTY_BODY)
            raise invalid_body(self, "", EMPTY_BODY)
        found = storable_problem(body, "", BODY_NESTING)
        if found is not None:
            raise invalid_body(self, *found)
        return body


EMPTY_BODY = "is empty; send a JSON object"
"""The problem of an empty (or null) body on an endpoint that takes one. Litestar does not decode
an empty body at all (the handler's ``data`` is missing, reported as ``'data'``), so the API's
gate refuses it before the handler runs (``web.access``)."""


def invalid_body(connection: ASGIConnection[Any, Any, Any, Any], where: str, problem: str) -> ValidationException:
    """A 400 in Litestar's validation shape; ``where`` is the place in the body ("" for the whole body)."""
    extra: dict[str, str] = {"message": problem, "source": "body"}
    if where:
        extra["key"] = where
    method = connection.scope.get("method")
    return ValidationException(
        detail=f"Validation failed for {method} {connection.url.path}: {where or 'the body'} {problem}",
        extra=[extra],
    )


def checked_request_class(base: type[Request[Any, Any, Any]] | None) -> type[Request[Any, Any, Any]]:
    """The request class of the API's routes: ``base`` (the app's, Litestar's by default) with checked JSON bodies.

    Built on the app's own class, so whatever the host added to its requests (and its identity
    resolver may use) stays there.
    """
    base = base or Request
    return cast("type[Request[Any, Any, Any]]", type(f"Workflows{base.__name__}", (_CheckedJSON, base), {}))
