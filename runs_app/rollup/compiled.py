"""A history's statements compiled once per shape, their per-request values as parameters.

A history request builds up to three grouped reads (the rollup's hours, its minutes, the
runs of the cut minutes) whose SQL depends on the filter body, the interval width and the
number of ranges each reads, but whose values (the window's start, ``now``, the ranges'
bounds) change at every request: the dashboard asks from "now - 30 days". Built and
compiled by the ORM at each request, they were about half of the request's Python.

Here each value that changes is written into the queryset as a :class:`Given` (one
parameter, marked with its name); the statement is compiled the first time its shape is
seen, the positions of the marks among its parameters are found, and each request puts
its own values there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Expression, Field, FloatField, QuerySet
from django.db.models.sql.compiler import SQLCompiler

from orion_project.compiled import compile_queryset
from orion_project.db import IntervalIndex
from orion_project.prepared import StatementsByBody


@dataclass(frozen=True)
class _Mark:
    """What stands for a :class:`Given` among a compiled statement's parameters."""

    name: Hashable


class Given(Expression):
    """A value given at each execution of a compiled statement (see the module
    docstring): a datetime (``DateTimeField``) or a float."""

    def __init__(self, name: Hashable, output_field: Field[Any, Any] | None = None) -> None:
        super().__init__(output_field=output_field or DateTimeField())
        self.name = name

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [_Mark(self.name)]

    def __repr__(self) -> str:
        return f"Given({self.name!r})"


def given_float(name: Hashable) -> Given:
    return Given(name, FloatField())


@dataclass(frozen=True)
class ShapeStatement:
    """A compiled statement and where each given value goes among its parameters.

    Its rows are the database's values, without Django's converters: a history's columns
    are numbers and names, which the caller turns into ``int`` and ``float`` itself
    (PostgreSQL sums a ``bigint`` column as ``numeric``), and converting each value of a
    few hundred rows was a third of the request's remaining Python.
    """

    sql: str | None  # None: Django proved the shape matches nothing
    params: tuple[Any, ...]
    slots: tuple[tuple[int, Hashable], ...]

    @classmethod
    def of(cls, queryset: QuerySet[Any]) -> ShapeStatement:
        compiled = compile_queryset(queryset, connection.alias)
        if compiled is None:
            return cls(None, (), ())
        _, sql, params = compiled
        slots = tuple((position, value.name) for position, value in enumerate(params) if type(value) is _Mark)
        return cls(sql, tuple(params), slots)

    def rows(self, values: Mapping[Hashable, Any]) -> list[tuple[Any, ...]]:
        """The rows for these ``values`` of the given names, read now."""
        if self.sql is None:
            return []
        adapt = connection.ops.adapt_datetimefield_value
        params = list(self.params)
        for position, name in self.slots:
            value = values[name]
            params[position] = adapt(value) if isinstance(value, dt.datetime) else value
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchall()  # type: ignore[no-any-return]


def ranges_given(prefix: str, count: int) -> list[tuple[Given, Given]]:
    """``count`` ranges whose bounds are given (see :func:`ranges_values`)."""
    return [(Given((prefix, index, 0)), Given((prefix, index, 1))) for index in range(count)]


def ranges_values(prefix: str, ranges: list[tuple[dt.datetime, dt.datetime]]) -> dict[Any, Any]:
    """The values of :func:`ranges_given`'s bounds for these ``ranges``."""
    return {(prefix, index, side): ranges[index][side] for index in range(len(ranges)) for side in (0, 1)}


def unit_number(
    column: str, unit: dt.timedelta, anchor: dt.datetime, earliest: dt.datetime, latest: dt.datetime
) -> IntervalIndex:
    """The rollup ``unit`` (minute or hour) a datetime column is in, as its number from
    ``anchor`` (the start of an hour, given at each execution as ``"anchor"``): an exact
    integer, where a truncated datetime was a value to convert per row."""
    return IntervalIndex(column, start=anchor, width=unit, earliest=earliest, latest=latest, start_sql=Given("anchor"))


def index_shape(index: IntervalIndex) -> tuple[int, int, bool]:
    """What of an :class:`IntervalIndex` its SQL is written with (its start is given)."""
    return (index.width_us, index.shift, index.float_exact)


_SHAPES: StatementsByBody[ShapeStatement] = StatementsByBody(size=256)


def shape_rows(key: Any, build: Callable[[], QuerySet[Any]], values: Mapping[Hashable, Any]) -> list[tuple[Any, ...]]:
    """The rows of the ``values_list`` queryset ``build`` makes, for ``values``:
    compiled once per ``key`` (which names everything the SQL depends on but the given
    values) and database; at each call when ``key`` is ``None``."""
    if key is None:
        return ShapeStatement.of(build()).rows(values)
    statement = _SHAPES.get(connection.alias, key, lambda: ShapeStatement.of(build()))
    return statement.rows(values)
