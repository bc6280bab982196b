"""The slots service: free the tag concurrency slots whose holder is gone (see ``runs_app.services.slots``)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from runs_app.background import workspace_ids
from runs_app.models import ConcurrencyLimit
from runs_app.services.slots import free_stale_slots


def sweep_stale_slots() -> int:
    """The services' pass: free every stale slot of every limit in use, workspace by
    workspace; how many were freed."""
    return sum(workspace_stale_slots_sweep(workspace_id=workspace_id) for workspace_id in workspace_ids())


def workspace_stale_slots_sweep(*, workspace_id: int) -> int:
    """Free the stale slots of the workspace's limits in use; how many were freed.

    Limits are locked in tag order, as the orchestration rules lock them, so a sweep and an
    acquisition never deadlock.
    """
    with transaction.atomic():
        locked = ConcurrencyLimit.objects.select_for_update().filter(workspace_id=workspace_id).order_by("tag")
        limits = [limit for limit in locked if limit.active_slots]
        return free_stale_slots(limits, timezone.now())
