"""Reads of global concurrency limits (2.20 ``/v2/concurrency_limits``)."""

from __future__ import annotations

import uuid

from runs_app.models import (
    GlobalConcurrencyLimit,
)


def global_limit_get(*, limit_id: uuid.UUID | None = None, name: str | None = None) -> GlobalConcurrencyLimit | None:
    """One global limit by id or by name (as stored: decay is applied on the next write)."""
    rows = (
        GlobalConcurrencyLimit.objects.filter(pk=limit_id)
        if limit_id is not None
        else GlobalConcurrencyLimit.objects.filter(name=name)
    )
    return rows.first()
