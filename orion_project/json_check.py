"""Find and repair stored JSON values nested deeper than the API now accepts.

Before request bodies were bounded (``orion_project.json_values``), a client could store
a free-form value nested deeper than the renderer writes; every answer holding it
failed. Answers now show such a value cut, but the row itself still holds it, so an
operator finds those rows with ``manage.py orion_check_json`` and cuts them to the
bound with ``--repair``. Every ``JSONField`` of every installed model is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast

from orion_project.json_values import MAX_JSON_DEPTH, json_cut, json_depth


@dataclass(frozen=True)
class TooDeepJSON:
    """One stored value nested deeper than :data:`MAX_JSON_DEPTH` levels."""

    model: type[models.Model]
    pk: Any
    field: str
    depth: int

    def __str__(self) -> str:
        return f"{self.model._meta.label} {self.pk} {self.field}: nested {self.depth} levels"


def _json_fields() -> Iterator[tuple[type[models.Model], models.JSONField[Any]]]:
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.JSONField):
                yield model, field


def _json_texts(rows: models.QuerySet[Any], field: str) -> models.QuerySet[Any]:
    """``(pk, value)`` of each row, the value as the database's JSON text: Python's JSON
    decoder (which ``JSONField`` reads with) may itself recurse too deep on such a value."""
    return rows.annotate(json_text=Cast(field, models.TextField())).values_list("pk", "json_text")


def _stored_texts(model: type[models.Model], field: models.JSONField[Any]) -> Iterator[tuple[Any, str]]:
    rows = _json_texts(model._base_manager.exclude(**{f"{field.name}__isnull": True}), field.name)
    for pk, text in rows.order_by("pk").iterator(chunk_size=500):
        if text is not None:
            yield pk, text


def too_deep_json_values(*, max_depth: int = MAX_JSON_DEPTH) -> Iterator[TooDeepJSON]:
    """Every stored JSON value nested deeper than ``max_depth`` levels."""
    for model, field in _json_fields():
        for pk, text in _stored_texts(model, field):
            # Nesting deeper than the bound needs at least as many brackets.
            if text.count("[") + text.count("{") <= max_depth:
                continue
            try:
                depth = json_depth(orjson.loads(text))
            except orjson.JSONDecodeError:  # NaN, which only SQLite stores; never deep
                continue
            if depth > max_depth:
                yield TooDeepJSON(model=model, pk=pk, field=field.name, depth=depth)


def too_deep_json_value_cut(*, found: TooDeepJSON, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Cut one value to ``max_depth`` levels, in place (``json_values.TOO_DEEP_MARKER``
    stands for what is cut), so that the row reads back as any value the API accepts.

    The text is read with orjson, which keeps integers past 64 bits only as floats: a
    value cut here loses their exactness (Python's decoder cannot read it at all)."""
    with transaction.atomic():
        rows = found.model._base_manager.filter(pk=found.pk)
        stored = _json_texts(rows.select_for_update(), found.field).first()
        if stored is None or stored[1] is None:
            return
        text = stored[1]
        rows.update(**{found.field: json_cut(orjson.loads(text), max_depth)})
