"""The group commit's writes, compiled once and run straight on the DBAPI cursor (pysqlite, asyncpg).

SQLAlchemy's per-execution machinery (cache lookup, execution context, parameter processing,
result setup) costs about 80 µs per statement here, more than SQLite needs to run it: most of a
group commit's CPU. On PostgreSQL it is more: the dialect's ``INSERT ... ON CONFLICT`` is not
cacheable, so SQLAlchemy compiles it again at every execution. For the writer's few fixed
statements, the SQL text and the columns' bind processors are taken from SQLAlchemy once, and
each group is written with one ``executemany`` per statement on the raw cursor, inside the
transaction SQLAlchemy began. The values still go through the very processors SQLAlchemy would
apply (JSON, UUID, timestamps), so what is stored is identical; a statement SQLAlchemy would add
parameters to (column defaults computed in Python) is not rendered, and the caller runs it
through SQLAlchemy as before.

On asyncpg the cursor is SQLAlchemy's own DB-API adapter (an ``executemany`` is one pipelined
round trip); its errors are wrapped as SQLAlchemy would wrap them (``DBAPIError`` subclasses, the
connection invalidated when the database went away), so callers tell an outage from a refusal as
for any other statement.

Bypassing the execution machinery also bypasses its events: these statements are not logged by
``echo`` and not seen by ``before_cursor_execute`` listeners.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

__all__ = ("DirectQuery", "DirectStatement", "direct_query", "direct_statement", "supports_direct")

_Processor = Callable[[Any], Any] | None


class DirectStatement:
    """SQL text with positional parameters, and how to turn a row of values into them."""

    __slots__ = ("_converted", "_take", "names", "processors", "sql")

    def __init__(self, sql: str, names: Sequence[str], processors: Sequence[_Processor]) -> None:
        self.sql = sql
        self.names = tuple(names)
        self.processors = tuple(processors)
        # Taking the values out is one C call; only the columns with a processor are converted
        # in Python (this runs for every row of every group commit).
        self._take = operator.itemgetter(*self.names) if len(self.names) > 1 else _single(self.names)
        self._converted = tuple(
            (position, processor) for position, processor in enumerate(self.processors) if processor is not None
        )

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters for one row."""
        row: tuple[Any, ...] = self._take(values)
        if not self._converted:
            return row
        converted = list(row)
        for position, processor in self._converted:
            converted[position] = processor(converted[position])
        return tuple(converted)

    def execute_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run the statement once per row, in the connection's current transaction; the rows it changed.

        (pysqlite counts them; asyncpg does not, and says -1.)
        """
        cursor = connection.connection.cursor()
        try:
            with _wrapped(connection, self.sql):
                cursor.executemany(self.sql, [self.parameters(values) for values in rows])
            count: int = cursor.rowcount
        finally:
            cursor.close()
        return count


def _single(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``itemgetter`` for one name (or none) that still gives a tuple."""

    def take(values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] for name in names)

    return take


@contextmanager
def _wrapped(connection: Connection, sql: str) -> Iterator[None]:
    """Raise the driver's errors as SQLAlchemy would (pysqlite's are left alone: callers know them)."""
    dialect = connection.dialect
    if dialect.name == "sqlite":
        yield
        return
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        gone = dialect.is_disconnect(exc, connection.connection.dbapi_connection, None)
        if gone:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            sql,
            None,
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=gone,
            dialect=dialect,
        ) from exc


_CACHE: weakref.WeakKeyDictionary[Dialect, dict[tuple[int, tuple[str, ...]], DirectStatement | None]] = (
    weakref.WeakKeyDictionary()
)


def supports_direct(dialect: Dialect) -> bool:
    """pysqlite (``?`` parameters) and asyncpg (``$1``, through SQLAlchemy's synchronous DB-API adapter)."""
    if dialect.name == "sqlite":
        return dialect.driver == "pysqlite" and dialect.paramstyle == "qmark"
    return dialect.name == "postgresql" and dialect.driver == "asyncpg" and dialect.paramstyle == "numeric_dollar"


def direct_statement(statement: UpdateBase, dialect: Dialect, keys: Sequence[str]) -> DirectStatement | None:
    """``statement`` compiled for rows with exactly ``keys``; None if SQLAlchemy must run it itself."""
    known = _CACHE.setdefault(dialect, {})
    cache_key = (id(statement), tuple(keys))  # the statements are module constants: ids are stable
    if cache_key in known:
        return known[cache_key]
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
    names = list(compiled.positiontup or ())
    direct: DirectStatement | None = None
    computed_in_python = bool(getattr(compiled, "insert_prefetch", ()) or getattr(compiled, "update_prefetch", ()))
    if not computed_in_python and names and set(names) <= set(keys) and not compiled.returning:
        processors = [compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
        direct = DirectStatement(compiled.string, names, processors)
    known[cache_key] = direct
    return direct


class DirectQuery:
    """A SELECT with positional parameters, and the result processors of its columns."""

    __slots__ = ("processors", "statement")

    def __init__(self, statement: DirectStatement, processors: Sequence[_Processor]) -> None:
        self.statement = statement
        self.processors = tuple(processors)

    def all(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows, each value converted as SQLAlchemy would."""
        cursor = connection.connection.cursor()
        try:
            with _wrapped(connection, self.statement.sql):
                cursor.execute(self.statement.sql, self.statement.parameters(values))
                raw = cursor.fetchall()
        finally:
            cursor.close()
        processors = self.processors
        return [
            tuple(
                value if processor is None else processor(value)
                for value, processor in zip(row, processors, strict=True)
            )
            for row in raw
        ]


_QUERIES: weakref.WeakKeyDictionary[Dialect, dict[int, DirectQuery | None]] = weakref.WeakKeyDictionary()


def direct_query(query: Select[Any], dialect: Dialect) -> DirectQuery | None:
    """``query`` (a module constant without expanding parameters) compiled for the cursor, or None."""
    known = _QUERIES.setdefault(dialect, {})
    if id(query) in known:
        return known[id(query)]
    compiled: Any = query.compile(dialect=dialect)
    names = list(compiled.positiontup or ())
    direct: DirectQuery | None = None
    if not any(bind.expanding for bind in compiled.binds.values()):
        binds = [compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
        results = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in query.selected_columns
        ]
        direct = DirectQuery(DirectStatement(compiled.string, names, binds), results)
    known[id(query)] = direct
    return direct
