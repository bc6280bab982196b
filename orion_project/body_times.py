"""A filter body's datetimes as parameters of its compiled statement.

Clients send windows measured from their own clock (``expected_start_time: {after_: now -
7 days}``), so nearly every such body is new, and :class:`orion_project.prepared.ByBody`
compiled its statement on every request although only those parameters changed. Here a
body's datetimes are lifted out: the statement is compiled once per *shape* (the body with
each datetime replaced by a placeholder) and each request puts its own datetimes into the
parameters.

A shape is trusted only when the statement provably takes each datetime as a parameter
and nothing else from it: it is compiled with two sets of placeholders, the second in the
opposite order (so a comparison of two datetimes in Python would change the SQL). The SQL
must be the same, the parameters equal except where each placeholder's database value
stands, and each such position must hold its own placeholder in both. Any other shape (a
datetime written into the SQL text, turned into another value, compared) is left to the
statement per body, as before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections

T = TypeVar("T")

# Placeholders: instants no client sends, distinct in each microsecond so each stays itself
# through the database's adaptation (SQLite writes the text of the UTC time).
_FIRST = dt.datetime(2001, 2, 3, tzinfo=dt.UTC)
_SECOND = dt.datetime(2002, 3, 4, tzinfo=dt.UTC)
_MOST = 1000


def _placeholder(base: dt.datetime, index: int) -> dt.datetime:
    return base + dt.timedelta(microseconds=index + 1)


def lifted(body: Any) -> tuple[Any, list[dt.datetime]]:
    """``body`` with its k-th datetime (in key order, depth first) replaced by the first
    set's k-th placeholder, and the datetimes in that order."""
    found: list[dt.datetime] = []

    def walk(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            found.append(value)
            return _placeholder(_FIRST, len(found) - 1)
        if isinstance(value, Mapping):
            return {key: walk(value[key]) for key in sorted(value)}
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        return value

    return walk(body), found


def _with_placeholders(shape: Any, count: int, base: dt.datetime, descending: bool) -> Any:
    """The shape with the placeholders of ``base`` (in reverse order when ``descending``)."""
    order = {_placeholder(_FIRST, index): index for index in range(count)}

    def walk(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            index = order[value]
            return _placeholder(base, count - 1 - index if descending else index)
        if isinstance(value, Mapping):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(shape)


@dataclass(frozen=True)
class Slots:
    """Where a shape's datetimes go among its statement's parameters: ``(parameter
    position, datetime index)`` pairs."""

    positions: tuple[tuple[int, int], ...]

    def filled(self, params: Sequence[Any], moments: Sequence[dt.datetime], alias: str) -> tuple[Any, ...]:
        adapt = connections[alias].ops.adapt_datetimefield_value
        values = list(params)
        for position, index in self.positions:
            values[position] = adapt(moments[index])
        return tuple(values)


def slots_of(
    shape: Any,
    count: int,
    alias: str,
    compile: Callable[[Any], T],
    parts: Callable[[T], tuple[str, Sequence[Any]] | None],
) -> tuple[T, Slots] | None:
    """The statement ``compile`` makes of ``shape`` (with its ``count`` datetimes) and
    its slots, or ``None`` when the shape cannot be trusted with parameters (see the module
    docstring). ``parts`` gives a compiled statement's SQL and parameters (``None`` for one
    that matches nothing, which is left to the statement per body)."""
    if count > _MOST:
        return None
    compiled = compile(_with_placeholders(shape, count, _FIRST, descending=False))
    first, second = parts(compiled), parts(compile(_with_placeholders(shape, count, _SECOND, descending=True)))
    if first is None or second is None or first[0] != second[0] or len(first[1]) != len(second[1]):
        return None
    adapt = connections[alias].ops.adapt_datetimefield_value
    wanted_first = {_value_key(adapt(_placeholder(_FIRST, index))): index for index in range(count)}
    wanted_second = {_value_key(adapt(_placeholder(_SECOND, count - 1 - index))): index for index in range(count)}
    positions = []
    for position, (a, b) in enumerate(zip(first[1], second[1], strict=True)):
        index = wanted_first.get(_value_key(a))
        if index is not None and wanted_second.get(_value_key(b)) == index:
            positions.append((position, index))
        elif a != b or type(a) is not type(b):
            return None
    return compiled, Slots(tuple(positions))


def _value_key(value: Any) -> Any:
    """A parameter as a dictionary key (a datetime only equals a datetime)."""
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)


def _parts(statement: Any) -> tuple[str, Sequence[Any]] | None:
    """A compiled statement's SQL and parameters: a ``(sql, params)`` pair as it is, a
    compiled query's own (``None``: it matches nothing)."""
    if statement is None or isinstance(statement, tuple):
        return statement
    return statement.sql, statement.params


def _with_params(statement: T, params: tuple[Any, ...]) -> T:
    if isinstance(statement, tuple):
        return (statement[0], params)  # type: ignore[return-value]
    return dataclasses.replace(statement, params=params)  # type: ignore[type-var]


def statement(
    body: Any,
    alias: str,
    cached: Callable[[tuple[Any, ...], Callable[[], Any]], Any],
    compile: Callable[[Any], T],
) -> T:
    """The statement for ``body``: ``cached(key, make)`` keeps what ``make`` builds under
    ``key``; ``compile(body)`` compiles a body (to a ``(sql, params)`` pair or a compiled
    query, ``None`` when it matches nothing). Compiled once per shape when the body's
    datetimes can be parameters, else once per body."""
    shape, moments = lifted(body)
    if moments:
        by_shape = cached(("shape", shape), lambda: slots_of(shape, len(moments), alias, compile, _parts))
        if by_shape is not None:
            compiled, slots = by_shape
            return _with_params(compiled, slots.filled(_parts(compiled)[1], moments, alias))  # type: ignore[index]
    return cached((body,), lambda: compile(body))  # type: ignore[no-any-return]
