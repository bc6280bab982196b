"""Retention of the event log: events older than ``ORION_EVENTS_RETENTION_DAYS`` (7 by
default, as the reference's ``PREFECT_EVENTS_RETENTION_PERIOD``) are deleted with the
resource rows they name, and taken off the hourly counts, on the retention pass of the
services loop.

Events are the highest-volume table, so the delete runs in short batches, each its own
transaction, per workspace along the workspace's occurred index: the API keeps writing and
reading while a prune runs, and a prune that is stopped continues where it stopped.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events_app.models import Event, EventResource
from events_app.services.hour_counts import event_hour_counts_add, hour_counts
from orion_project.models import Workspace

logger = logging.getLogger("orion.retention")

DEFAULT_BATCH_SIZE = 5000


def events_prune(*, before: dt.datetime, workspace_id: int, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Delete the workspace's events that occurred before ``before`` and their resource
    rows, ``batch_size`` events per transaction; how many events were deleted."""
    deleted = 0
    while True:
        with transaction.atomic():
            # Locked (PostgreSQL; SQLite's transactions take the write lock first), so two
            # prunes never both take the same events off the hourly counts.
            batch = list(
                Event.objects.filter(workspace_id=workspace_id, occurred__lt=before)
                .order_by("occurred")
                .select_for_update()
                .values_list("seq", "occurred", "event")[:batch_size]
            )
            if not batch:
                break
            seqs = [seq for seq, _, _ in batch]
            EventResource.objects.filter(event_seq__in=seqs).delete()
            deleted += Event.objects.filter(seq__in=seqs).delete()[0]
            removed = hour_counts((occurred, name) for _, occurred, name in batch)
            event_hour_counts_add({key: -count for key, count in removed.items()}, workspace_id=workspace_id)
    if deleted:
        logger.info("Pruned %d event(s) of workspace %d older than %s", deleted, workspace_id, before.isoformat())
    return deleted


def events_retention_service() -> int:
    """The services loop's pass over the event log: every workspace's events older than
    ``ORION_EVENTS_RETENTION_DAYS`` (0 keeps them all), on the retention pass's interval."""
    days = settings.ORION_EVENTS_RETENTION_DAYS
    if days <= 0:
        return 0
    before = timezone.now() - dt.timedelta(days=days)
    return sum(
        events_prune(before=before, workspace_id=workspace_id)
        for workspace_id in Workspace.objects.order_by("pk").values_list("pk", flat=True)
    )
