"""Database lookups the filter engine needs on both SQLite and PostgreSQL.

* ``tags_all``: a JSON array column contains every given string (``all_`` on tags).
  PostgreSQL uses ``@>`` so the GIN index on the column serves it; SQLite checks each
  value with ``json_each``.
* ``WorkspaceTagsContainAll``: ``tags_all`` on a table whose tags are indexed per
  workspace on PostgreSQL (flow runs: the GIN index keys each tag by its row's workspace).
* ``ilike_raw``: case-insensitive substring match that, like the reference, does not
  escape ``%`` and ``_`` in the value (so ``like_: "%"`` matches everything).
* ``EpochSeconds`` / ``DurationSeconds``: datetimes and durations as float seconds, for
  the history aggregates; ``IntervalIndex``: a history's interval of a run, exactly.
* ``RowsCount`` / ``RowsSum``: a count or sum over every row a query selects, as one
  value a statement can add up with another (a count from two sources in one statement).
* ``WithinRanges``: a datetime column in one of many half-open ranges, compiled straight
  to SQL (a history request names dozens of ranges).
* ``utc_timestamptz_loader``: PostgreSQL ``timestamptz`` values read by the C parser of
  ``datetime.fromisoformat`` (see :func:`fast_timestamptz_loader`).
* ``cache_write_statements``: psycopg keeps the converted text of the state-write
  statements, which it would otherwise convert at every execution.
* ``write_transaction``: ``transaction.atomic()`` whose statements PostgreSQL may plan
  once for every execution (the state writes), where the connection plans each for its
  values (the filter reads).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    Expression,
    F,
    FloatField,
    Func,
    JSONField,
    Lookup,
    TextField,
    Value,
)
from django.db.models.sql.compiler import SQLCompiler


class JSONArrayContainsAll(Lookup):
    """``tags__tags_all=["a", "b"]``: every value is an element of the JSON array."""

    lookup_name = "tags_all"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        return list(self.rhs)

    def process_rhs(self, compiler: SQLCompiler, connection: Any) -> tuple[str, Any]:
        return "%s", [json.dumps(list(self.rhs))]

    def as_postgresql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} @> %s::jsonb", [*lhs_params, json.dumps(list(self.rhs))]

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, Any]:
        # One set comparison, not an AND per value: SQLite refuses expression trees deeper
        # than 1000, which a long ``all_`` list would build (found by the fuzz gate).
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(dict.fromkeys(self.rhs))
        if not values:
            return "1 = 1", []
        sql = (
            f"((SELECT COUNT(DISTINCT tag.value) FROM json_each({lhs}) AS tag "
            "WHERE tag.value IN (SELECT wanted.value FROM json_each(%s) AS wanted)) = %s)"
        )
        return sql, [*lhs_params, json.dumps(values), len(values)]


class WorkspaceTagsContainAll(Func):
    """``tags_all`` of one workspace's rows, written so PostgreSQL can answer it from a GIN
    index on ``jsonb_set('{}', ARRAY[workspace_id::text], tags)`` (``{"<workspace>": tags}``).

    A ``jsonb_path_ops`` key hashes a value with its path, so there each tag is keyed by
    its row's workspace: a common tag's posting list holds this workspace's runs, not every
    workspace's (the index scan reads every posting list of the wanted tags, whatever else
    the query narrows). The answer is that of ``tags @> values``: an object holds
    ``{"w": values}`` exactly when its ``"w"`` value contains ``values``. SQLite has no such
    index and reads the plain lookup.
    """

    output_field = BooleanField()

    def __init__(self, workspace: Any, tags: Any, workspace_id: int, values: Sequence[str]) -> None:
        super().__init__(workspace, tags)
        self.workspace_id = workspace_id
        self.values = list(values)

    def as_postgresql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, Any]:
        workspace, tags = self.get_source_expressions()
        workspace_sql, workspace_params = compiler.compile(workspace)
        tags_sql, tags_params = compiler.compile(tags)
        sql = f"jsonb_set('{{}}'::jsonb, ARRAY[({workspace_sql})::text], {tags_sql}) @> %s::jsonb"
        return sql, [*workspace_params, *tags_params, json.dumps({str(self.workspace_id): self.values})]

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, Any]:
        return compiler.compile(JSONArrayContainsAll(self.get_source_expressions()[1], self.values))


class RawILike(Lookup):
    """``name__ilike_raw="etl"``: ``ILIKE '%etl%'`` without escaping wildcards in the value."""

    lookup_name = "ilike_raw"

    def as_postgresql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE ('%%' || {rhs} || '%%')", [*lhs_params, *rhs_params]

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, Any]:
        # SQLite's LIKE is already case-insensitive for ASCII.
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE ('%%' || {rhs} || '%%')", [*lhs_params, *rhs_params]


def register_lookups() -> None:
    """Attach the lookups to the field classes (called once from the app config)."""
    JSONField.register_lookup(JSONArrayContainsAll)
    CharField.register_lookup(RawILike)
    TextField.register_lookup(RawILike)


class _FloatSeconds(Func):
    """Float seconds of an expression: ``date_part('epoch', ...)`` on PostgreSQL (for
    timestamps and intervals alike), ``sqlite_template`` on SQLite.

    Not ``EXTRACT(EPOCH ...)``: since PostgreSQL 14 that computes a ``numeric``, several
    times the CPU of ``date_part``'s ``float8`` per row, and a history request converts a
    few values of each run it reads. Both give the nearest float to a timestamp's exact
    seconds (a whole number of microseconds over 10^6); for an interval of a day or more,
    ``date_part`` adds its days and its time as floats, which can differ in the last bit,
    as the float sums a history answer is made of already do with the order they add in.
    """

    output_field = FloatField()
    sqlite_template = ""

    def __init__(self, expression: Any) -> None:
        super().__init__(expression)

    def as_postgresql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, Any]:
        return self.as_sql(compiler, connection, template="date_part('epoch', %(expressions)s)", **extra)

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, Any]:
        return self.as_sql(compiler, connection, template=self.sqlite_template, **extra)


class EpochSeconds(_FloatSeconds):
    """Seconds since 1970 of a datetime expression, as a float, on both databases."""

    # julianday() keeps the microseconds that strftime('%s') would drop.
    sqlite_template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"


class IntervalIndex(Expression):
    """The interval a datetime column falls in, ``floor((column - start) / width)``, as
    an integer computed exactly in microseconds, on both databases.

    A history reads runs by comparing their expected start with bounds (exactly), and
    places each in its interval with this index: the two must agree on a run exactly on
    a bound. Float epoch seconds did not (SQLite's ``julianday()`` is about 40 µs
    coarse), and a run read for the far side of a bound but placed on the near side was
    counted twice. ``earliest``: no row the query places is before it; the difference is
    shifted by whole widths to be positive, so integer division (which truncates) floors.

    PostgreSQL: ``date_part`` of ``column - start`` is the float nearest the exact
    seconds, exact to the microsecond after rounding while the difference is under
    2^31 s (68 years); a wider window is read through ``EXTRACT``'s exact ``numeric``,
    several times the CPU per row. SQLite: whole seconds from ``strftime('%s')`` and the
    stored text's six fraction digits (Django writes ``YYYY-MM-DD HH:MM:SS[.ffffff]``).
    """

    output_field = BigIntegerField()
    FLOAT_EXACT_SPAN = dt.timedelta(seconds=2**31)

    def __init__(
        self,
        column: str,
        *,
        start: dt.datetime,
        width: dt.timedelta,
        earliest: dt.datetime,
        latest: dt.datetime,
        start_sql: Any = None,
    ) -> None:
        super().__init__()
        self.column_expression: Any = F(column)
        # ``start_sql``: what the SQL reads for ``start`` (a parameter given at each
        # execution of a statement compiled once); the widths below follow from ``start``.
        self.start_expression: Any = Value(start, output_field=DateTimeField()) if start_sql is None else start_sql
        self.start = start
        self.width_us = max(width // dt.timedelta(microseconds=1), 1)
        # Whole widths that lift every difference from ``start`` to zero or more.
        self.shift = max(-((earliest - start) // dt.timedelta(microseconds=1)) // self.width_us + 1, 0)
        self.float_exact = max(abs(earliest - start), abs(latest - start)) < self.FLOAT_EXACT_SPAN

    def resolve_expression(self, query: Any = None, *args: Any, **kwargs: Any) -> Any:
        resolved = self.copy()
        resolved.column_expression = self.column_expression.resolve_expression(query, *args, **kwargs)
        resolved.start_expression = self.start_expression.resolve_expression(query, *args, **kwargs)
        return resolved

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.column_expression)
        start, start_params = compiler.compile(self.start_expression)
        if connection.vendor == "postgresql":
            if self.float_exact:
                micros = f"round(date_part('epoch', {column} - ({start})::timestamptz) * 1000000)::bigint"
            else:
                micros = f"(EXTRACT(EPOCH FROM {column} - ({start})::timestamptz) * 1000000)::bigint"
            params = [*column_params, *start_params]
        else:
            # Both the column and ``start`` are Django's datetime text, read the same way.
            micros = f"({_sqlite_micros(column)} - {_sqlite_micros(start)})"
            params = [*column_params, *column_params, *start_params, *start_params]
        lifted = self.shift * self.width_us
        return f"(({micros} + {lifted}) / {self.width_us} - {self.shift})", params


def _sqlite_micros(text: str) -> str:
    """SQLite: microseconds since 1970 of Django's datetime text
    (``YYYY-MM-DD HH:MM:SS[.ffffff]``), exactly."""
    return f"(CAST(strftime('%%s', {text}) AS INTEGER) * 1000000 + CAST(substr({text}, 21, 6) AS INTEGER))"


class DurationSeconds(_FloatSeconds):
    """A duration column as float seconds (PostgreSQL interval, SQLite microseconds)."""

    sqlite_template = "(%(expressions)s / 1000000.0)"


class RowsCount(Func):
    """``COUNT(expr)`` over every row the query selects.

    Django groups by every other column when an annotation is one of its aggregates; this
    one it takes for a plain function, so a query of it is one row (``0`` when nothing
    matches) and can stand as a scalar sub-query inside another statement.
    """

    function = "COUNT"
    output_field = BigIntegerField()


class EveryRowCount(RowsCount):
    """``COUNT(*)``, as :class:`RowsCount`: it reads no column, so PostgreSQL may count
    from whichever index narrows the rows, without the heap. ``COUNT(id)`` reads ``id``,
    which only the primary key, the heap or an index that includes it gives: at 1M runs a
    24-hour count then walked a workspace's whole covering index instead of its
    24 hours of ``(workspace, expected start)``."""

    template = "COUNT(*)"


class RowsSum(Func):
    """``SUM(expr)`` over every row the query selects (``NULL`` when none); see
    :class:`RowsCount`."""

    function = "SUM"
    output_field = BigIntegerField()


class WithinRanges(Expression):
    """``column`` is in one of the half-open ``[lower, upper)`` ranges (a condition for
    ``filter``); a bound is a datetime or an expression.

    Written straight to SQL: Django resolves and compiles a ``Q`` per range slowly, and a
    30-day history with daily intervals names some sixty (docs/performance.md).
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, ranges: Sequence[tuple[Any, Any]]) -> None:
        super().__init__()
        self.column = column
        self.ranges = list(ranges)
        self.column_expression: Any = F(column)

    def resolve_expression(self, query: Any = None, *args: Any, **kwargs: Any) -> Any:
        resolved = self.copy()
        resolved.column_expression = self.column_expression.resolve_expression(query, *args, **kwargs)
        return resolved

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, Any]:
        if not self.ranges:
            return "1 = 0", []
        column, column_params = compiler.compile(self.column_expression)
        adapt = connection.ops.adapt_datetimefield_value

        def bound(value: Any) -> tuple[str, Any]:
            # A bound may be an expression: a parameter given at each execution.
            return compiler.compile(value) if hasattr(value, "as_sql") else ("%s", [adapt(value)])

        parts, params = [], []
        for lower, upper in self.ranges:
            (lower_sql, lower_params), (upper_sql, upper_params) = bound(lower), bound(upper)
            parts.append(f"({column} >= {lower_sql} AND {column} < {upper_sql})")
            params += [*column_params, *lower_params, *column_params, *upper_params]
        return f"({' OR '.join(parts)})", params


@functools.cache
def utc_timestamptz_loader() -> Any:
    """A psycopg loader of ``timestamptz`` text (``2026-11-30 01:50:01.349+00``) as an
    aware UTC datetime, made once (psycopg is imported only on PostgreSQL).

    Django registers its own loader on every PostgreSQL connection, a Python subclass of
    psycopg's Python ``TimestamptzLoader`` (so psycopg's C loader is never used), which was
    a large part of reading a page of runs (docs/performance.md).
    ``datetime.fromisoformat`` parses PostgreSQL's ISO output in C and gives the same value; what it does
    not take (another DateStyle, BC dates, infinity) goes to psycopg's loader, so errors
    are psycopg's own. ``timezone`` is what Django compares to see that the connection's
    loader already suits it.
    """
    from psycopg.adapt import Loader
    from psycopg.types.datetime import TimestamptzLoader

    class UtcTimestamptzLoader(Loader):
        timezone = dt.UTC

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._fallback = TimestamptzLoader(oid, context)

        def load(self, data: Any) -> dt.datetime:
            try:
                value = dt.datetime.fromisoformat(bytes(data).decode())
            except ValueError:
                return self._fallback.load(data).astimezone(dt.UTC)
            return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)

    return UtcTimestamptzLoader


# psycopg turns a statement's ``%s`` placeholders into ``$n`` by a Python scan of its
# text, and keeps the result (128 statements, least recently used first out) only for
# statements of at most 4,096 bytes and 50 parameters. A state write, its event and its
# rollup upsert are one statement of about 120 parameters whose text is the same at every
# run: without the cache it was scanned again at every state change. These bounds cover
# it and keep out the multi-row INSERTs whose text varies with their row count (a batch
# of log lines), which psycopg's bounds are there for.
CACHED_STATEMENT_BYTES = 8192
CACHED_STATEMENT_PARAMS = 256


def cache_write_statements() -> None:
    """Raise psycopg's bounds on the statements whose conversion it caches (above)."""
    from psycopg import _queries

    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, CACHED_STATEMENT_BYTES)
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, CACHED_STATEMENT_PARAMS)


def fast_timestamptz_loader(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: :func:`utc_timestamptz_loader` on PostgreSQL
    connections whose time zone is UTC (the project's setting), and
    :func:`cache_write_statements`."""
    if connection.vendor != "postgresql":
        return
    cache_write_statements()
    if connection.timezone is dt.UTC:
        # A pooled connection keeps its loaders from one checkout to the next, and this
        # runs at every checkout: register once per connection.
        adapters, loader = connection.connection.adapters, utc_timestamptz_loader()
        if adapters.get_loader(TIMESTAMPTZ_OID, TEXT_FORMAT) is not loader:
            adapters.register_loader("timestamptz", loader)


TIMESTAMPTZ_OID = 1184
TEXT_FORMAT = 0  # psycopg.pq.Format.TEXT


# Sent instead of psycopg's own ``BEGIN`` (one round trip either way): the connection's
# ``plan_cache_mode = force_custom_plan`` (``orion_project.config``) is for the filter
# reads, whose best plan depends on their values; a write's statements have one plan
# whatever their values, and planning them again at every execution, with the
# foreign-key checks PostgreSQL runs for them, was a third of the database's CPU for a
# state change (docs/performance.md, "Generic plans for the writes").
_BEGIN_PLANNED_ONCE = b"BEGIN; SET LOCAL plan_cache_mode = auto"


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    """``transaction.atomic()`` whose statements (and the foreign-key checks they cause)
    PostgreSQL plans under its default ``plan_cache_mode``: a prepared statement is then
    planned once for all its executions, as it would be without the connection's
    setting. For the writes of one row by primary key, whose plan no value changes.

    The setting is local to the transaction. Inside a transaction already begun (an
    outer ``atomic`` that ran a statement) it is not changed: that transaction's plans
    stay those of the connection, which answer the same.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _begin_planned_once()
        yield


def _begin_planned_once() -> None:
    """Begin the outermost transaction now with :data:`_BEGIN_PLANNED_ONCE`, before
    psycopg begins it with its own ``BEGIN`` at the first statement."""
    from psycopg import errors, generators, pq

    raw = connection.connection
    pgconn = raw.pgconn
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return
    with connection.wrap_database_errors, raw.lock:
        pgconn.send_query(_BEGIN_PLANNED_ONCE)
        results = raw.wait(generators.execute(pgconn))
        failed = next((result for result in results if result.status != pq.ExecStatus.COMMAND_OK), None)
        if failed is not None:
            raise errors.error_from_result(failed, encoding=raw.info.encoding)
