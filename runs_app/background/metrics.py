"""The metrics service: refresh the task-run counts per workspace and state type that
``/api/metrics`` reads (its flow-run counts are the history rollup's all-hours rows,
kept by every write)."""

from __future__ import annotations

from django.db import transaction

from runs_app.background import workspace_ids
from runs_app.models import RunStateCount
from runs_app.services.run_counts import task_run_counts_store


def run_counts_refresh() -> int:
    """Recount task runs per workspace and state type into ``RunStateCount`` (the
    ``metrics`` service; one grouped count for every workspace, each workspace's rows
    apart); returns the number of rows written."""
    ids = workspace_ids()
    with transaction.atomic():
        # Snapshots of flow runs from before the rollup answered live, and of workspaces
        # deleted since: stale, never read.
        RunStateCount.objects.exclude(kind=RunStateCount.Kind.TASK_RUN).delete()
        RunStateCount.objects.exclude(workspace_id__in=ids).delete()
        counts = task_run_counts_store(workspace_ids=ids)
    return sum(len(by_type) for by_type, _ in counts.values())
