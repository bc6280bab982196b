"""The task-run snapshot that ``/api/metrics`` reports: task runs per workspace and state
type in ``RunStateCount``.

The ``metrics`` service refreshes every workspace's snapshot each pass. A scrape that
finds a workspace without one (a database the service has not counted yet, a workspace
created since its last pass) stores one through the same function, so a workspace's task
runs are counted once, not at every scrape: a scrape's cost stays that of reading a few
rows per workspace however many task runs there are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from runs_app.models import RunStateCount, TaskRun
from runs_app.states import StateType

# Per workspace: task runs per state type, and when they were counted.
TaskRunCounts = dict[int, tuple[dict[str, int], dt.datetime]]


def task_run_counts_store(*, workspace_ids: Collection[int]) -> TaskRunCounts:
    """Count these workspaces' task runs per state type (one grouped count) and store the
    counts, replacing what was stored for them; returns what was stored."""
    now = timezone.now()
    counts: TaskRunCounts = {workspace_id: (dict.fromkeys(StateType.values, 0), now) for workspace_id in workspace_ids}
    if not counts:
        return counts
    grouped = (
        TaskRun.objects.filter(workspace_id__in=list(counts))
        .values_list("workspace_id", "state_type")
        .annotate(total=Count("id"))
        .order_by()
    )
    for workspace_id, state_type, total in grouped:
        if state_type in counts[workspace_id][0]:
            counts[workspace_id][0][state_type] = total
    rows = [
        RunStateCount(
            workspace_id=workspace_id,
            kind=RunStateCount.Kind.TASK_RUN,
            state_type=state_type,
            count=count,
            computed=now,
        )
        # In key order, so two writers upserting the same workspaces lock rows alike.
        for workspace_id, (by_type, _) in sorted(counts.items())
        for state_type, count in sorted(by_type.items())
    ]
    with transaction.atomic():
        RunStateCount.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["workspace_id", "kind", "state_type"],
            update_fields=["count", "computed"],
        )
    return counts
