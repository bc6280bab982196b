"""Reads of variables: one filter definition serves ``/variables/filter`` and ``/count``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from blocks_app.filters import VARIABLE_FILTER
from blocks_app.models import Variable


def variables_matching(*, filters: Mapping[str, Any] | None, workspace_id: int) -> QuerySet[Variable]:
    """The workspace's variables matching the ``variables`` key of a validated body
    (``/variables/filter`` and ``/count`` read the same condition)."""
    return VARIABLE_FILTER.apply(Variable.objects.filter(workspace_id=workspace_id), (filters or {}).get("variables"))


def variables_by_id_or_name(
    *, workspace_id: int, variable_id: uuid.UUID | None = None, name: str | None = None
) -> QuerySet[Variable]:
    """The workspace's variable with this id, or else with this name (the one lookup of the
    by-id and by-name routes, for reads and writes alike)."""
    rows = Variable.objects.filter(workspace_id=workspace_id)
    return rows.filter(pk=variable_id) if variable_id is not None else rows.filter(name=name)


def variable_get(
    *, workspace_id: int, variable_id: uuid.UUID | None = None, name: str | None = None
) -> Variable | None:
    """One variable of the workspace by id or by name."""
    return variables_by_id_or_name(workspace_id=workspace_id, variable_id=variable_id, name=name).first()
