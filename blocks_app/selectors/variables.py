"""Reads of variables: one filter definition serves ``/variables/filter`` and ``/count``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from blocks_app.filters import VARIABLE_FILTER
from blocks_app.models import Variable


def variables_matching(*, filters: Mapping[str, Any] | None) -> QuerySet[Variable]:
    """Variables matching the ``variables`` key of a validated body (``/variables/filter``
    and ``/count`` read the same condition)."""
    return VARIABLE_FILTER.apply(Variable.objects.all(), (filters or {}).get("variables"))


def variable_get(*, variable_id: uuid.UUID | None = None, name: str | None = None) -> Variable | None:
    """One variable by id or by name."""
    rows = Variable.objects.filter(pk=variable_id) if variable_id is not None else Variable.objects.filter(name=name)
    return rows.first()
