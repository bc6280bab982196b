"""Reads of global concurrency limits (2.20 ``/v2/concurrency_limits``), per workspace."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from runs_app.models import GlobalConcurrencyLimit


def global_limits_by_id_or_name(
    *, workspace_id: int, limit_id: uuid.UUID | None = None, name: str | None = None
) -> QuerySet[GlobalConcurrencyLimit]:
    """The workspace's limit with this id, or else with this name (the one lookup of the
    by-id-or-name routes, for reads and writes alike)."""
    rows = GlobalConcurrencyLimit.objects.filter(workspace_id=workspace_id)
    return rows.filter(pk=limit_id) if limit_id is not None else rows.filter(name=name)


def global_limit_get(
    *, workspace_id: int, limit_id: uuid.UUID | None = None, name: str | None = None
) -> GlobalConcurrencyLimit | None:
    """One global limit of the workspace by id or by name (as stored: decay is applied on
    the next write)."""
    return global_limits_by_id_or_name(workspace_id=workspace_id, limit_id=limit_id, name=name).first()


def global_limits_by_name(*, workspace_id: int) -> QuerySet[GlobalConcurrencyLimit]:
    """The workspace's limits ordered by name (``/v2/concurrency_limits/filter``)."""
    return GlobalConcurrencyLimit.objects.filter(workspace_id=workspace_id).order_by("name")
