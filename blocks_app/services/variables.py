"""Writes to variables. Each function is one transaction; a taken name is a 409."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from blocks_app.models import Variable
from orion_project.exceptions import INTEGRITY_CONFLICT_DETAIL, ConflictError


def variable_create(*, name: str, value: str, tags: list[str] | None = None) -> Variable:
    """Create a variable; a name already in use answers the reference's generic 409."""
    try:
        with transaction.atomic():
            return Variable.objects.create(name=name, value=value, tags=list(tags or []))
    except IntegrityError:
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL) from None


def variable_update(
    *, changes: Mapping[str, Any], variable_id: uuid.UUID | None = None, name: str | None = None
) -> bool:
    """Change a variable found by id or by name; ``False`` if there is none."""
    rows = Variable.objects.filter(pk=variable_id) if variable_id is not None else Variable.objects.filter(name=name)
    try:
        with transaction.atomic():
            return rows.update(**changes, updated=timezone.now()) > 0
    except IntegrityError:
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL) from None


def variable_delete(*, variable_id: uuid.UUID | None = None, name: str | None = None) -> bool:
    """Delete a variable by id or by name; ``False`` if there is none."""
    rows = Variable.objects.filter(pk=variable_id) if variable_id is not None else Variable.objects.filter(name=name)
    with transaction.atomic():
        deleted, _ = rows.delete()
    return deleted > 0
