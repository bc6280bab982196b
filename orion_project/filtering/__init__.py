"""The filter engine core: one declarative definition per resource, read by every layer.

A resource declares an :class:`ObjectFilter` (e.g. ``FlowFilter``) made of
:class:`FieldFilter` entries (``name``, ``tags`` ...), each listing its :class:`Operator` s
(``any_``, ``like_`` ...), the kind of value each takes, and the model column it reads.
This package turns a *validated* filter body into a Django ``Q`` (reference §C: operators
inside a field filter are ANDed unless it has its own ``operator``; field filters combine
with the object filter's ``operator``; absent or null keys add nothing; ``any_: []``
matches nothing). Selectors use it; it imports nothing from an API layer.

The API layer (``orion_project.api.filtering``) reads the same definitions to build the
request-body serializers, their OpenAPI schemas and the django-filter query-string doors,
so what a body may say and what it means are defined once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db.models import Q, QuerySet

# ``None`` stands for "no constraint" (SQL TRUE) throughout the engine.
Condition = Q | None
# A validated filter body, e.g. ``{"name": {"any_": ["a"]}}``; ``None`` when absent.
FilterBody = Mapping[str, Any] | None

BOOLEAN_OPERATORS = ("and_", "or_")


def combine(conditions: Sequence[Condition], operator: str) -> Condition:
    """Combine conditions with ``and_`` / ``or_``; TRUE absorbs an OR and vanishes in an AND."""
    real = [condition for condition in conditions if condition is not None]
    if operator == "or_":
        if not conditions or len(real) < len(conditions):
            return None
        result = real[0]
        for condition in real[1:]:
            result = result | condition
        return result
    if not real:
        return None
    result = real[0]
    for condition in real[1:]:
        result = result & condition
    return result


QuerySetT = TypeVar("QuerySetT", bound=QuerySet[Any])


def narrowed(queryset: QuerySetT, conditions: Sequence[Condition]) -> QuerySetT:
    """``queryset`` narrowed by the AND of ``conditions`` (unchanged when all are TRUE)."""
    condition = combine(conditions, "and_")
    return queryset if condition is None else queryset.filter(condition)


# ------------------------------------------------------------------------- value kinds


@dataclass(frozen=True)
class ValueKind:
    """What one operator value is: the API layer maps each kind to its validating field.

    ``choices`` is set for enumerations (state types); the other kinds are plain scalars,
    text ones at most ``max_length`` characters long when it is set.
    """

    name: str
    choices: tuple[str, ...] = ()
    max_length: int | None = None


# The longest ``like_`` / ``startswith_`` value. SQLite refuses LIKE patterns over 50,000
# bytes ("LIKE or GLOB pattern too complex"); 10,000 characters stay under that even at
# four UTF-8 bytes each, with the wildcards and escapes the lookups add. No name or search
# a person types comes near it.
MAX_PATTERN_LENGTH = 10_000

STR = ValueKind("str")
# Text an operator matches with SQL ``LIKE``.
PATTERN = ValueKind("str", max_length=MAX_PATTERN_LENGTH)
UUID = ValueKind("uuid")
BOOL = ValueKind("bool")
INT = ValueKind("int")
DATETIME = ValueKind("datetime")


def choice(values: Iterable[str]) -> ValueKind:
    """An enumeration value kind (``FlowRunFilterStateType.any_`` takes state types)."""
    return ValueKind("choice", tuple(values))


# --------------------------------------------------------------------------- operators


@dataclass(frozen=True, eq=False)
class Operator:
    """One filter operator: its JSON key, the kind of its value, and its SQL.

    ``build(column, value)`` returns a ``Q`` (or ``None`` for TRUE). ``is_list`` says the
    value is a list of ``value`` items (the query-string door splits on commas).
    """

    key: str
    value: ValueKind
    build: Callable[[str, Any], Condition]
    description: str
    is_list: bool = False

    @property
    def param_suffix(self) -> str:
        """The operator's name in query strings: ``any_`` → ``any``."""
        return self.key.rstrip("_")


def any_(value: ValueKind = STR) -> Operator:
    """Value is one of the given values; an empty list matches nothing."""
    return Operator(
        "any_",
        value,
        lambda column, values: Q(**{f"{column}__in": values}),
        "A list of values; matches any of them.",
        is_list=True,
    )


def not_any_(value: ValueKind = STR) -> Operator:
    """Value is none of the given values."""
    return Operator(
        "not_any_",
        value,
        lambda column, values: ~Q(**{f"{column}__in": values}) if values else None,
        "A list of values; matches none of them.",
        is_list=True,
    )


def like_() -> Operator:
    """Case-insensitive substring (wildcards in the value are not escaped)."""
    return Operator(
        "like_",
        PATTERN,
        lambda column, value: Q(**{f"{column}__ilike_raw": value}),
        "A case-insensitive substring match.",
    )


def startswith_() -> Operator:
    """Any of the given prefixes, case-insensitive."""

    def build(column: str, prefixes: list[str]) -> Condition:
        return combine([Q(**{f"{column}__istartswith": p}) for p in prefixes], "or_") if prefixes else Q(pk__in=[])

    return Operator("startswith_", PATTERN, build, "A list of prefixes.", is_list=True)


def all_() -> Operator:
    """A JSON array contains every given value; an empty list matches everything."""
    return Operator(
        "all_",
        STR,
        lambda column, values: Q(**{f"{column}__tags_all": values}) if values else None,
        "A list of values; matches arrays that contain all of them.",
        is_list=True,
    )


def array_is_null_() -> Operator:
    """``true``: the JSON array is empty; ``false``: it is not."""
    return Operator(
        "is_null_",
        BOOL,
        lambda column, value: Q(**{column: []}) if value else ~Q(**{column: []}),
        "If true, only include objects with no tags.",
    )


def is_null_() -> Operator:
    """The column IS NULL (``true``) or IS NOT NULL (``false``)."""
    return Operator(
        "is_null_",
        BOOL,
        lambda column, value: Q(**{f"{column}__isnull": value}),
        "If true, only include objects where this field is null.",
    )


def _bound(key: str, value: ValueKind, lookup: str, description: str) -> Operator:
    """An inclusive comparison operator (``<=`` / ``>=``)."""
    return Operator(key, value, lambda column, bound: Q(**{f"{column}__{lookup}": bound}), description)


def before_() -> Operator:
    """Inclusive upper time bound."""
    return _bound("before_", DATETIME, "lte", "Only include objects at or before this time.")


def after_() -> Operator:
    """Inclusive lower time bound."""
    return _bound("after_", DATETIME, "gte", "Only include objects at or after this time.")


def ge_() -> Operator:
    """Inclusive numeric lower bound."""
    return _bound("ge_", INT, "gte", "Greater or equal.")


def le_() -> Operator:
    """Inclusive numeric upper bound."""
    return _bound("le_", INT, "lte", "Less or equal.")


def eq_(value: ValueKind = BOOL) -> Operator:
    """Equality."""
    return Operator("eq_", value, lambda column, expected: Q(**{column: expected}), "Equal to this value.")


def custom(key: str, value: ValueKind, build: Callable[[str, Any], Condition], doc: str) -> Operator:
    """An operator with its own SQL (e.g. ``exists_`` on sub-flow runs)."""
    return Operator(key, value, build, doc)


# ------------------------------------------------------------------------ field filters


@dataclass(frozen=True, eq=False)
class FieldFilter:
    """A filter on one field: ``{"name": {"any_": [...], "like_": "x"}}``.

    ``column`` is the model path the operators read (``name``, ``state_type`` ...).
    ``combinable`` field filters carry their own ``operator`` key.
    """

    key: str
    schema: str
    column: str
    operators: tuple[Operator, ...]
    combinable: bool = False
    description: str = ""

    def to_q(self, data: Mapping[str, Any] | None, prefix: str = "") -> Condition:
        """The condition for this field's validated value (``None`` = TRUE)."""
        if data is None:
            return None
        conditions = [
            op.build(prefix + self.column, data[op.key]) for op in self.operators if data.get(op.key) is not None
        ]
        return combine(conditions, data.get("operator", "and_") if self.combinable else "and_")

    def query_params(self, path: str = "") -> Iterable[tuple[str, Operator, FieldFilter]]:
        """``(param, operator, field)`` for each operator; the first is also the bare name."""
        base = f"{path}{self.key}"
        for index, op in enumerate(self.operators):
            if index == 0:
                yield base, op, self
            yield f"{base}__{op.param_suffix}", op, self


@dataclass(frozen=True, eq=False)
class NestedFilter:
    """A field filter made of sub-fields, e.g. ``state: {type: {...}, name: {...}}``.

    The sub-fields' conditions are flattened and combined with the nested filter's own
    ``operator`` (reference: ``FlowRunFilterState``).
    """

    key: str
    schema: str
    children: tuple[FieldFilter, ...]
    combinable: bool = True
    description: str = ""

    def to_q(self, data: Mapping[str, Any] | None, prefix: str = "") -> Condition:
        if data is None:
            return None
        conditions = [
            child.to_q(data.get(child.key), prefix) for child in self.children if data.get(child.key) is not None
        ]
        return combine(conditions, data.get("operator", "and_") if self.combinable else "and_")

    def query_params(self, path: str = "") -> Iterable[tuple[str, Operator, FieldFilter]]:
        for child in self.children:
            yield from child.query_params(f"{path}{self.key}__")


AnyFieldFilter = FieldFilter | NestedFilter


@dataclass(frozen=True, eq=False)
class ObjectFilter:
    """The filter of one resource, e.g. ``FlowFilter``: field filters plus ``operator``.

    ``defaults`` are field-filter values applied when the key is absent (the reference's
    ``BlockDocumentFilter.is_anonymous`` defaults to ``{"eq_": false}``).
    """

    schema: str
    fields: tuple[AnyFieldFilter, ...]
    combinable: bool = True
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def to_q(self, data: Mapping[str, Any] | None, prefix: str = "") -> Condition:
        """The condition for a validated filter body (``None`` when it constrains nothing)."""
        if data is None:
            return None
        conditions = [spec.to_q(data.get(spec.key), prefix) for spec in self.fields if data.get(spec.key) is not None]
        return combine(conditions, data.get("operator", "and_") if self.combinable else "and_")

    def apply(self, queryset: QuerySet[Any], data: Mapping[str, Any] | None) -> QuerySet[Any]:
        """``queryset`` narrowed by ``data`` (a validated filter body)."""
        condition = self.to_q(data)
        return queryset if condition is None else queryset.filter(condition)


# ------------------------------------------------------------------------------ sorting


@dataclass(frozen=True, eq=False)
class SortSpec:
    """A sort enum (reference §D): each value maps to ``order_by`` expressions."""

    schema: str
    orders: Mapping[str, tuple[Any, ...]]
    default: str

    def order_by(self, value: str | None) -> tuple[Any, ...]:
        return self.orders[value or self.default]
