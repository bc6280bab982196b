"""The metrics service: refresh the task-run counts per workspace and state type, and the
per-workspace sums of the flow-run history's old hours, that ``/api/metrics`` reads."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from runs_app.background import workspace_ids
from runs_app.models import FlowRunHistoryBucket, FlowRunHistoryTotal, RunStateCount, TaskRun
from runs_app.rollup.writes import ALL_FLOWS, totals_before
from runs_app.states import StateType


def run_counts_refresh() -> int:
    """Recount task runs per workspace and state type into ``RunStateCount`` (the
    ``metrics`` service; one grouped count for every workspace, each workspace's rows
    apart), then store each workspace's flow-run history total
    (:func:`flow_run_history_totals_refresh`); returns the number of rows written."""
    return _task_run_counts_refresh() + flow_run_history_totals_refresh()


def flow_run_history_totals_refresh() -> int:
    """Sum each workspace's all-flows rows of the history rollup before
    :func:`~runs_app.rollup.writes.totals_before` into its ``FlowRunHistoryTotal`` (one
    workspace per transaction); returns the number of workspaces summed. A stored sum
    still valid up to the same hour is exact and is kept, so a workspace is summed again
    only once a day or after a write to its old hours cleared it.

    The workspace's row exists (committed) before it is locked, and it is locked before
    the rollup is read: a rollup write that clears the row either ends before the sum
    reads (which then includes it) or waits for this transaction and clears what it
    stored."""
    now = timezone.now()
    before = totals_before(now)
    ids = workspace_ids()
    FlowRunHistoryTotal.objects.exclude(workspace_id__in=ids).delete()
    FlowRunHistoryTotal.objects.bulk_create(
        [FlowRunHistoryTotal(workspace_id=workspace_id) for workspace_id in ids], ignore_conflicts=True
    )
    current = set(FlowRunHistoryTotal.objects.filter(before=before).values_list("workspace_id", flat=True))
    stale = [workspace_id for workspace_id in ids if workspace_id not in current]
    for workspace_id in stale:
        with transaction.atomic():
            total = FlowRunHistoryTotal.objects.select_for_update().get(workspace_id=workspace_id)
            summed = (
                FlowRunHistoryBucket.objects.filter(workspace_id=workspace_id, flow_id=ALL_FLOWS, bucket__lt=before)
                .values_list("state_type", "state_name")
                .annotate(total=Sum("count_runs"))
                .order_by("state_type", "state_name")
            )
            total.counts = [[state_type, state_name, int(count)] for state_type, state_name, count in summed if count]
            total.before = before
            total.computed = now
            total.save(update_fields=["counts", "before", "computed"])
    return len(stale)


def _task_run_counts_refresh() -> int:
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
