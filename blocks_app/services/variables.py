"""Writes to variables. Each function is one transaction; a taken name is a 409."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from blocks_app.models import Variable
from blocks_app.selectors.variables import variables_by_id_or_name
from orion_project.exceptions import INTEGRITY_CONFLICT_DETAIL, ConflictError


def variable_create(*, name: str, value: str, tags: list[str] | None = None, workspace_id: int) -> Variable:
    """Create a variable in the workspace; a name already in use there answers the
    reference's generic 409."""
    try:
        with transaction.atomic():
            return Variable.objects.create(name=name, value=value, tags=list(tags or []), workspace_id=workspace_id)
    except IntegrityError:
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL) from None


def variable_update(
    *, changes: Mapping[str, Any], workspace_id: int, variable_id: uuid.UUID | None = None, name: str | None = None
) -> bool:
    """Change a variable of the workspace found by id or by name; ``False`` if there is none."""
    rows = variables_by_id_or_name(workspace_id=workspace_id, variable_id=variable_id, name=name)
    try:
        with transaction.atomic():
            return rows.update(**changes, updated=timezone.now()) > 0
    except IntegrityError:
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL) from None


def variable_delete(*, workspace_id: int, variable_id: uuid.UUID | None = None, name: str | None = None) -> bool:
    """Delete a variable of the workspace by id or by name; ``False`` if there is none."""
    rows = variables_by_id_or_name(workspace_id=workspace_id, variable_id=variable_id, name=name)
    with transaction.atomic():
        deleted, _ = rows.delete()
    return deleted > 0
