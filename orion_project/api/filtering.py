"""The filter engine: one declarative definition per resource, three uses.

A resource declares an :class:`ObjectFilter` (e.g. ``FlowFilter``) made of
:class:`FieldFilter` entries (``name``, ``tags`` ...), each listing its
:class:`Operator` s (``any_``, ``like_`` ...) and the model column it reads. From that
one definition the engine derives

* the DRF serializer that validates the nested JSON body of ``POST /x/filter`` and
  ``/x/count`` (and documents it in the OpenAPI schema as ``FlowFilter``,
  ``FlowFilterName`` ...), rejecting unknown keys;
* the Django ``Q`` object for a validated body (reference §C: operators inside a field
  filter are ANDed unless it has its own ``operator``; field filters are combined with
  the object filter's ``operator``; absent or null keys add nothing; ``any_: []``
  matches nothing);
* a django-filter ``FilterSet`` for ``GET /x/?name=...`` query strings, whose values are
  parsed by the same operator fields.

Filters on *related* resources are turned into joins (``prefix``) or ``EXISTS``
sub-queries by each resource's selectors, using :meth:`ObjectFilter.to_q`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from rest_framework import serializers

from orion_project.api.errors import DetailError, RequestValidationError, pydantic_errors
from orion_project.api.fields import (
    MAX_FILTER_LIST_ITEMS,
    BoolField,
    DateTimeField,
    EmbeddedBodySerializer,
    EnumField,
    IntField,
    ListField,
    StrField,
    StrictSerializer,
)

# ``None`` stands for "no constraint" (SQL TRUE) throughout the engine.
Condition = Q | None
FieldFactory = Callable[..., serializers.Field]

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


def operator_field() -> EnumField:
    """The ``operator`` key of combinable filters."""
    return EnumField(BOOLEAN_OPERATORS, default="and_", help_text="How conditions combine.")


# --------------------------------------------------------------------------- operators


@dataclass(frozen=True, eq=False)
class Operator:
    """One filter operator: its JSON key, the field validating its value, and its SQL.

    ``build(column, value)`` returns a ``Q`` (or ``None`` for TRUE). ``is_list`` tells the
    query-string door to split comma-separated values.
    """

    key: str
    make_field: Callable[[], serializers.Field]
    build: Callable[[str, Any], Condition]
    description: str
    is_list: bool = False

    @property
    def param_suffix(self) -> str:
        """The operator's name in query strings: ``any_`` → ``any``."""
        return self.key.rstrip("_")


def _list_of(item: FieldFactory) -> Callable[[], serializers.Field]:
    return lambda: ListField(child=item(required=True, allow_null=False), max_length=MAX_FILTER_LIST_ITEMS)


def any_(item: FieldFactory = StrField) -> Operator:
    """Value is one of the given values; an empty list matches nothing."""
    return Operator(
        "any_",
        _list_of(item),
        lambda column, values: Q(**{f"{column}__in": values}),
        "A list of values; matches any of them.",
        is_list=True,
    )


def not_any_(item: FieldFactory = StrField) -> Operator:
    """Value is none of the given values."""
    return Operator(
        "not_any_",
        _list_of(item),
        lambda column, values: ~Q(**{f"{column}__in": values}) if values else None,
        "A list of values; matches none of them.",
        is_list=True,
    )


def like_() -> Operator:
    """Case-insensitive substring (wildcards in the value are not escaped)."""
    return Operator(
        "like_",
        StrField,
        lambda column, value: Q(**{f"{column}__ilike_raw": value}),
        "A case-insensitive substring match.",
    )


def startswith_() -> Operator:
    """Any of the given prefixes, case-insensitive."""

    def build(column: str, prefixes: list[str]) -> Condition:
        return combine([Q(**{f"{column}__istartswith": p}) for p in prefixes], "or_") if prefixes else Q(pk__in=[])

    return Operator("startswith_", _list_of(StrField), build, "A list of prefixes.", is_list=True)


def all_() -> Operator:
    """A JSON array contains every given value; an empty list matches everything."""
    return Operator(
        "all_",
        _list_of(StrField),
        lambda column, values: Q(**{f"{column}__tags_all": values}) if values else None,
        "A list of values; matches arrays that contain all of them.",
        is_list=True,
    )


def array_is_null_() -> Operator:
    """``true``: the JSON array is empty; ``false``: it is not."""
    return Operator(
        "is_null_",
        BoolField,
        lambda column, value: Q(**{column: []}) if value else ~Q(**{column: []}),
        "If true, only include objects with no tags.",
    )


def is_null_() -> Operator:
    """The column IS NULL (``true``) or IS NOT NULL (``false``)."""
    return Operator(
        "is_null_",
        BoolField,
        lambda column, value: Q(**{f"{column}__isnull": value}),
        "If true, only include objects where this field is null.",
    )


def _bound(key: str, field: FieldFactory, lookup: str, description: str) -> Operator:
    """An inclusive comparison operator (``<=`` / ``>=``)."""
    return Operator(key, field, lambda column, value: Q(**{f"{column}__{lookup}": value}), description)


def before_() -> Operator:
    """Inclusive upper time bound."""
    return _bound("before_", DateTimeField, "lte", "Only include objects at or before this time.")


def after_() -> Operator:
    """Inclusive lower time bound."""
    return _bound("after_", DateTimeField, "gte", "Only include objects at or after this time.")


def ge_() -> Operator:
    """Inclusive numeric lower bound."""
    return _bound("ge_", IntField, "gte", "Greater or equal.")


def le_() -> Operator:
    """Inclusive numeric upper bound."""
    return _bound("le_", IntField, "lte", "Less or equal.")


def eq_(item: FieldFactory = BoolField) -> Operator:
    """Equality."""
    return Operator("eq_", item, lambda column, value: Q(**{column: value}), "Equal to this value.")


def custom(key: str, item: FieldFactory, build: Callable[[str, Any], Condition], doc: str) -> Operator:
    """An operator with its own SQL (e.g. ``exists_`` on sub-flow runs)."""
    return Operator(key, item, build, doc)


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

    def serializer_class(self) -> type[StrictSerializer]:
        return _field_serializer(self)

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

    def serializer_class(self) -> type[StrictSerializer]:
        return _field_serializer(self)

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

    def serializer_class(self) -> type[StrictSerializer]:
        return _object_serializer(self)

    def serializer(self, **kwargs: Any) -> StrictSerializer:
        """A serializer instance for use as a request-body field."""
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        return self.serializer_class()(**kwargs)

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

    def filterset_class(self, model: type[Any]) -> type[django_filters.FilterSet]:
        """The django-filter ``FilterSet`` for ``GET`` list query strings."""
        return _filterset(self, model)


# ------------------------------------------------------------------- serializer building


@functools.cache
def _field_serializer(spec: AnyFieldFilter) -> type[StrictSerializer]:
    attrs: dict[str, Any] = {"__doc__": spec.description or f"Filter by `{spec.key}`."}
    if isinstance(spec, NestedFilter):
        for child in spec.children:
            attrs[child.key] = child.serializer_class()(required=False, allow_null=True)
    else:
        for op in spec.operators:
            op_field = op.make_field()
            op_field.help_text = op.description
            attrs[op.key] = op_field
    if spec.combinable:
        attrs["operator"] = operator_field()
    return type(spec.schema, (StrictSerializer,), attrs)


@functools.cache
def _object_serializer(spec: ObjectFilter) -> type[StrictSerializer]:
    attrs: dict[str, Any] = {"__doc__": spec.description or f"Filter criteria: {spec.schema}."}
    for field_spec in spec.fields:
        default = spec.defaults.get(field_spec.key)
        if default is not None:
            attrs[field_spec.key] = field_spec.serializer_class()(required=False, default=default)
        else:
            attrs[field_spec.key] = field_spec.serializer_class()(required=False, allow_null=True)
    if spec.combinable:
        attrs["operator"] = operator_field()
    return type(spec.schema, (StrictSerializer,), attrs)


# ------------------------------------------------------------------------------ sorting


@dataclass(frozen=True, eq=False)
class SortSpec:
    """A sort enum (reference §D): each value maps to ``order_by`` expressions."""

    schema: str
    orders: Mapping[str, tuple[Any, ...]]
    default: str

    def field(self, default: str | None = None) -> EnumField:
        return EnumField(list(self.orders), default=default or self.default, help_text=f"{self.schema} value.")

    def order_by(self, value: str | None) -> tuple[Any, ...]:
        return self.orders[value or self.default]


# --------------------------------------------------------------------------- pagination


def limit_field() -> IntField:
    """``limit``: null means the default; the range is checked by :func:`checked_limit`."""
    return IntField(help_text="Defaults to the server's page size, which is also the maximum.")


def offset_field() -> IntField:
    return IntField(default=0, min_value=0, help_text="Rows to skip.")


def checked_limit(value: int | None) -> int:
    """Apply the reference's limit rule: default = maximum = ``ORION_API_DEFAULT_LIMIT``."""
    maximum = settings.ORION_API_DEFAULT_LIMIT
    if value is None:
        return maximum
    if value > maximum:
        raise DetailError(f"Invalid limit: must be less than or equal to {maximum}.", 422)
    if value < 0:
        raise DetailError("Invalid limit: must be greater than or equal to 0.", 422)
    return value


def paginate(queryset: QuerySet[Any], *, limit: int | None, offset: int) -> QuerySet[Any]:
    limit = checked_limit(limit)
    return queryset[offset : offset + limit]


# ------------------------------------------------------------------------ request bodies


def request_serializer(
    name: str,
    filters: Mapping[str, ObjectFilter],
    *,
    sort: SortSpec | None = None,
    sort_default: str | None = None,
    paginated: bool = False,
    extra: Mapping[str, serializers.Field] | None = None,
) -> type[StrictSerializer]:
    """Build the body serializer of a filter/count route from its filter keys."""
    attrs: dict[str, Any] = {"__doc__": f"Request body of `{name}`."}
    for key, spec in filters.items():
        attrs[key] = spec.serializer()
    if sort is not None:
        attrs["sort"] = sort.field(sort_default)
    if paginated:
        attrs["limit"] = limit_field()
        attrs["offset"] = offset_field()
    attrs.update(extra or {})
    return type(name, (EmbeddedBodySerializer,), attrs)


def validate_body(serializer_class: type[StrictSerializer], body: Any) -> dict[str, Any]:
    """Validate a JSON body (``None`` = no body) and return its data, or raise a 422."""
    serializer = serializer_class()
    try:
        return dict(serializer.run_validation({} if body is None else body))
    except serializers.ValidationError as error:
        raise RequestValidationError(pydantic_errors(error.detail, ("body",)), body) from None


# ------------------------------------------------------------------ query-string filters


class OperatorFilter(django_filters.Filter):
    """A django-filter filter that parses its value with an :class:`Operator`'s field."""

    field_class = forms.CharField

    def __init__(self, *, param: str, operator: Operator, column: str, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", operator.description)
        super().__init__(field_name=column, **kwargs)
        self.param = param
        self.operator = operator

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value in (None, ""):
            return qs
        raw: Any = value.split(",") if self.operator.is_list else value
        value_field = self.operator.make_field()
        try:
            parsed = value_field.run_validation(raw)
        except serializers.ValidationError as error:
            raise RequestValidationError(pydantic_errors(error.detail, ("query", self.param))) from None
        condition = self.operator.build(self.field_name, parsed)
        return qs if condition is None else qs.filter(condition)


_FILTERSETS: dict[tuple[int, type[Any]], type[django_filters.FilterSet]] = {}


def _filterset(spec: ObjectFilter, model: type[Any]) -> type[django_filters.FilterSet]:
    key = (id(spec), model)
    if key not in _FILTERSETS:
        _FILTERSETS[key] = _build_filterset(spec, model)
    return _FILTERSETS[key]


def _build_filterset(spec: ObjectFilter, model: type[Any]) -> type[django_filters.FilterSet]:
    attrs: dict[str, Any] = {}
    for field_spec in spec.fields:
        for param, op, leaf in field_spec.query_params():
            attrs[param] = OperatorFilter(param=param, operator=op, column=leaf.column)
    meta = type("Meta", (), {"model": model, "fields": []})
    attrs["Meta"] = meta
    return type(f"{spec.schema}Set", (django_filters.FilterSet,), attrs)
