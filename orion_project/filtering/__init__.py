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

from orion_project.filtering.core import (
    BOOL,
    BOOLEAN_OPERATORS,
    DATETIME,
    INT,
    STR,
    UUID,
    AnyFieldFilter,
    Condition,
    FieldFilter,
    FilterBody,
    NestedFilter,
    ObjectFilter,
    Operator,
    SortSpec,
    ValueKind,
    after_,
    all_,
    any_,
    array_is_null_,
    before_,
    choice,
    combine,
    custom,
    eq_,
    ge_,
    is_null_,
    le_,
    like_,
    not_any_,
    startswith_,
)

__all__ = [
    "BOOL",
    "BOOLEAN_OPERATORS",
    "DATETIME",
    "INT",
    "STR",
    "UUID",
    "AnyFieldFilter",
    "Condition",
    "FieldFilter",
    "FilterBody",
    "NestedFilter",
    "ObjectFilter",
    "Operator",
    "SortSpec",
    "ValueKind",
    "after_",
    "all_",
    "any_",
    "array_is_null_",
    "before_",
    "choice",
    "combine",
    "custom",
    "eq_",
    "ge_",
    "is_null_",
    "le_",
    "like_",
    "not_any_",
    "startswith_",
]
