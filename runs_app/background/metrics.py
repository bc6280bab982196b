"""The metrics service: refresh the task-run counts per state type that ``/api/metrics`` reads."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from runs_app.models import RunStateCount, TaskRun
from runs_app.selectors.history import count_by_state_type


def run_counts_refresh() -> int:
    """Recount task runs per state type into ``RunStateCount`` (the ``metrics`` service);
    returns the number of rows written. Flow runs need no snapshot: the rollup is live."""
    now = timezone.now()
    rows = [
        RunStateCount(kind=RunStateCount.Kind.TASK_RUN, state_type=state_type, count=count, computed=now)
        for state_type, count in count_by_state_type(TaskRun.objects.all()).items()
    ]
    with transaction.atomic():
        # Snapshots of flow runs from before the rollup answered live: stale, never read.
        RunStateCount.objects.exclude(kind=RunStateCount.Kind.TASK_RUN).delete()
        RunStateCount.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["kind", "state_type"], update_fields=["count", "computed"]
        )
    return len(rows)
