"""The metrics service: refresh the task-run counts per workspace and state type that
``/api/metrics`` reads (its flow-run counts are the history rollup's all-hours rows,
kept by every write)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from runs_app.background import workspace_ids
from runs_app.models import RunStateCount, TaskRun
from runs_app.states import StateType


def run_counts_refresh() -> int:
    """Recount task runs per workspace and state type into ``RunStateCount`` (the
    ``metrics`` service; one grouped count for every workspace, each workspace's rows
    apart); returns the number of rows written."""
    now = timezone.now()
    counts = {(workspace_id, state_type): 0 for workspace_id in workspace_ids() for state_type in StateType.values}
    grouped = TaskRun.objects.values_list("workspace_id", "state_type").annotate(total=Count("id")).order_by()
    for workspace_id, state_type, total in grouped:
        if (workspace_id, state_type) in counts:
            counts[workspace_id, state_type] = total
    rows = [
        RunStateCount(
            workspace_id=workspace_id,
            kind=RunStateCount.Kind.TASK_RUN,
            state_type=state_type,
            count=count,
            computed=now,
        )
        for (workspace_id, state_type), count in counts.items()
    ]
    with transaction.atomic():
        # Snapshots of flow runs from before the rollup answered live, and of workspaces
        # deleted since: stale, never read.
        RunStateCount.objects.exclude(kind=RunStateCount.Kind.TASK_RUN).delete()
        RunStateCount.objects.exclude(workspace_id__in={workspace_id for workspace_id, _ in counts}).delete()
        RunStateCount.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["workspace_id", "kind", "state_type"],
            update_fields=["count", "computed"],
        )
    return len(rows)
