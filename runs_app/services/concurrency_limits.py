"""Writes of tag concurrency limits (``/concurrency_limits``); their slots are taken and freed in ``runs_app.services.slots``."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from runs_app.models import (
    ConcurrencyLimit,
)
from runs_app.services.purge import flow_runs_delete as flow_runs_delete  # re-exported: the one delete path
from runs_app.services.purge import task_runs_delete as task_runs_delete


def concurrency_limit_upsert(*, tag: str, concurrency_limit: int, workspace_id: int) -> ConcurrencyLimit:
    """Create the workspace's limit for ``tag``, or change the limit value of its
    existing one (a tag is limited per workspace)."""
    with transaction.atomic():
        limit, created = ConcurrencyLimit.objects.select_for_update().get_or_create(
            workspace_id=workspace_id, tag=tag, defaults={"concurrency_limit": concurrency_limit}
        )
        if not created and limit.concurrency_limit != concurrency_limit:
            limit.concurrency_limit = concurrency_limit
            limit.save(update_fields=["concurrency_limit", "updated"])
    return limit


def concurrency_limit_delete(*, workspace_id: int, limit_id: uuid.UUID | None = None, tag: str | None = None) -> bool:
    """Delete a limit of the workspace by id or by tag; ``False`` if it has none."""
    in_workspace = ConcurrencyLimit.objects.filter(workspace_id=workspace_id)
    limits = in_workspace.filter(pk=limit_id) if limit_id is not None else in_workspace.filter(tag=tag)
    with transaction.atomic():
        deleted, _ = limits.delete()
    return deleted > 0


def concurrency_limit_reset(*, tag: str, workspace_id: int, slot_override: list[str] | None = None) -> bool:
    """Empty (or replace) the active slots of the workspace's limit on a tag; ``False``
    if it has none."""
    with transaction.atomic():
        limit = ConcurrencyLimit.objects.select_for_update().filter(workspace_id=workspace_id, tag=tag).first()
        if limit is None:
            return False
        limit.active_slots = [str(slot) for slot in slot_override or []]
        now = timezone.now().isoformat()
        limit.slot_acquired = dict.fromkeys(limit.active_slots, now)
        limit.save(update_fields=["active_slots", "slot_acquired", "updated"])
    return True
