"""The API doors into the filter engine: request bodies, OpenAPI schemas, query strings.

The declarative filters live beside each app's models (``<app>/filters.py``) and the
engine core in :mod:`orion_project.filtering`. From one :class:`ObjectFilter` this module
derives

* the DRF serializer that validates the nested JSON body of ``POST /x/filter`` and
  ``/x/count`` (documented in the OpenAPI schema as ``FlowFilter``, ``FlowFilterName``
  ...), rejecting unknown keys inside filter objects;
* a django-filter ``FilterSet`` for ``GET /x/?name=...`` query strings, whose values are
  parsed by the same operator fields;
* the ``sort``, ``limit`` and ``offset`` keys of paginated bodies.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.db.models import QuerySet
from rest_framework import serializers

from orion_project.api.errors import DetailError, RequestValidationError, pydantic_errors
from orion_project.api.fields import (
    MAX_FILTER_LIST_ITEMS,
    AnyJSONField,
    BoolField,
    DateTimeField,
    EmbeddedBodySerializer,
    EnumField,
    IntField,
    JSONObjectField,
    ListField,
    MaxLengthStrField,
    StrField,
    StrictSerializer,
    UUIDField,
)
from orion_project.filtering import (
    BOOLEAN_OPERATORS,
    AnyFieldFilter,
    NestedFilter,
    ObjectFilter,
    Operator,
    SortSpec,
    ValueKind,
)
from orion_project.prepared import StatementsByBody

_SCALAR_FIELDS: dict[str, Callable[..., serializers.Field]] = {
    "str": StrField,
    "uuid": UUIDField,
    "bool": BoolField,
    "int": IntField,
    "datetime": DateTimeField,
}


def value_field(kind: ValueKind, **kwargs: Any) -> serializers.Field:
    """The field that validates one value of ``kind``."""
    if kind.name == "choice":
        return EnumField(list(kind.choices), **kwargs)
    if kind.max_length is not None:
        return MaxLengthStrField(max_length=kind.max_length, **kwargs)
    return _SCALAR_FIELDS[kind.name](**kwargs)


def operator_value_field(op: Operator) -> serializers.Field:
    """The field that validates an operator's value (a list of values for list operators)."""
    if op.is_list:
        return ListField(child=value_field(op.value, required=True, allow_null=False), max_length=MAX_FILTER_LIST_ITEMS)
    return value_field(op.value)


def boolean_operator_field() -> EnumField:
    """The ``operator`` key of combinable filters."""
    return EnumField(BOOLEAN_OPERATORS, default="and_", help_text="How conditions combine.")


def filter_serializer(spec: ObjectFilter, **kwargs: Any) -> StrictSerializer:
    """A serializer instance for ``spec`` used as a request-body field."""
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", True)
    return _object_serializer(spec)(**kwargs)


# ------------------------------------------------------------------- serializer building


@functools.cache
def _field_serializer(spec: AnyFieldFilter) -> type[StrictSerializer]:
    attrs: dict[str, Any] = {"__doc__": spec.description or f"Filter by `{spec.key}`."}
    if isinstance(spec, NestedFilter):
        for child in spec.children:
            attrs[child.key] = _field_serializer(child)(required=False, allow_null=True)
    else:
        for op in spec.operators:
            op_field = operator_value_field(op)
            op_field.help_text = op.description
            attrs[op.key] = op_field
    if spec.combinable:
        attrs["operator"] = boolean_operator_field()
    return type(spec.schema, (StrictSerializer,), attrs)


@functools.cache
def _object_serializer(spec: ObjectFilter) -> type[StrictSerializer]:
    attrs: dict[str, Any] = {"__doc__": spec.description or f"Filter criteria: {spec.schema}."}
    for field_spec in spec.fields:
        default = spec.defaults.get(field_spec.key)
        if default is not None:
            attrs[field_spec.key] = _field_serializer(field_spec)(required=False, default=default)
        else:
            attrs[field_spec.key] = _field_serializer(field_spec)(required=False, allow_null=True)
    if spec.combinable:
        attrs["operator"] = boolean_operator_field()
    return type(spec.schema, (StrictSerializer,), attrs)


# ------------------------------------------------------------------------------ sorting


def sort_field(spec: SortSpec, default: str | None = None) -> EnumField:
    """The ``sort`` key of a paginated body: one of the sort enum's values."""
    return EnumField(list(spec.orders), default=default or spec.default, help_text=f"{spec.schema} value.")


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
        attrs[key] = filter_serializer(spec)
    if sort is not None:
        attrs["sort"] = sort_field(sort, sort_default)
    if paginated:
        attrs["limit"] = limit_field()
        attrs["offset"] = offset_field()
    attrs.update(extra or {})
    serializer_class = type(name, (EmbeddedBodySerializer,), attrs)
    if not any(_keeps_json(field) for field in serializer_class().fields.values()):
        _PURE_BODIES[serializer_class] = len(_PURE_BODIES)
    return serializer_class


# The body serializers whose validated data is a function of the body alone, each with
# the number that keys its bodies: what :func:`validate_body` may keep. Every field
# validates by reading its value (no clock, no database), but a JSON object is kept as
# sent, key order included, which the kept body's key (sorted) does not tell apart.
_PURE_BODIES: dict[type[StrictSerializer], int] = {}


def _keeps_json(field: serializers.Field) -> bool:
    """Whether ``field`` or a field inside it keeps a JSON value as it was sent."""
    if isinstance(field, (AnyJSONField, JSONObjectField)):
        return True
    if isinstance(field, serializers.ListField):
        return _keeps_json(field.child)
    if isinstance(field, serializers.BaseSerializer):
        return any(_keeps_json(child) for child in field.fields.values())  # type: ignore[attr-defined]
    return False


_VALIDATED: StatementsByBody[dict[str, Any]] = StatementsByBody()


_body_serializers = threading.local()


def _body_serializer(serializer_class: type[StrictSerializer]) -> StrictSerializer:
    """One instance of ``serializer_class`` per thread, reused for every body.

    A new DRF serializer deep-copies each declared field, and each nested filter serializer
    again on first use, which weighs on every filter and count request
    (docs/performance.md). Validating keeps nothing on the instance
    (``run_validation`` returns the data or raises), so reusing it within one thread is safe.
    """
    cache: dict[type[StrictSerializer], StrictSerializer] | None = getattr(_body_serializers, "by_class", None)
    if cache is None:
        cache = _body_serializers.by_class = {}
    serializer = cache.get(serializer_class)
    if serializer is None:
        serializer = cache[serializer_class] = serializer_class()
    return serializer


def validate_body(serializer_class: type[StrictSerializer], body: Any) -> dict[str, Any]:
    """Validate a JSON body (``None`` = no body) and return its data, or raise a 422.

    A filter body (:func:`request_serializer`) is validated once per distinct body and
    kept: dashboards and agents send the same few bodies again and again, and walking
    the nested filter serializers was a tenth of a count's CPU (docs/performance.md).
    Each caller gets its own copy; a body that fails is validated every time.
    """
    number = _PURE_BODIES.get(serializer_class)
    if number is not None:
        return _copied(_VALIDATED.get("", (number, body), lambda: _validated(serializer_class, body)))
    return _validated(serializer_class, body)


def _validated(serializer_class: type[StrictSerializer], body: Any) -> dict[str, Any]:
    serializer = _body_serializer(serializer_class)
    try:
        return dict(serializer.run_validation({} if body is None else body))
    except serializers.ValidationError as error:
        raise RequestValidationError(pydantic_errors(error.detail, ("body",)), body) from None


def _copied(value: Any) -> Any:
    """``value``'s dicts and lists copied (the rest are immutable: strings, numbers,
    UUIDs, datetimes), so no caller can change what the next one is given."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


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
        try:
            parsed = operator_value_field(self.operator).run_validation(raw)
        except serializers.ValidationError as error:
            raise RequestValidationError(pydantic_errors(error.detail, ("query", self.param))) from None
        condition = self.operator.build(self.field_name, parsed)
        return qs if condition is None else qs.filter(condition)


_FILTERSETS: dict[tuple[int, type[Any]], type[django_filters.FilterSet]] = {}


def filterset_class(spec: ObjectFilter, model: type[Any]) -> type[django_filters.FilterSet]:
    """The django-filter ``FilterSet`` for ``GET`` list query strings of ``spec`` (built once)."""
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
