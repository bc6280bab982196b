"""What ``/api/metrics`` reports about runs, queues and concurrency limits.

Every gauge about stored rows carries a ``workspace`` label (the workspace's slug): one
scrape reports each workspace's runs, queues and limits apart, and no sample sums two
workspaces. Each query reads every workspace at once, grouped by workspace, so a scrape
costs the same number of statements however many workspaces there are.

Every query here is sized for a database of millions of runs:

* flow runs per state (and so the Late ones) are live: each workspace's all-hours rows
  of the history rollup (a row per state, kept by every write in its transaction) plus
  the few runs outside the rollup;
* task runs per state type come from :class:`~runs_app.models.RunStateCount`, a handful
  of rows per workspace the ``metrics`` service refreshes (one grouped count per pass);
  a workspace the service has not counted yet is counted by the first scrape that finds
  it so, which stores its rows (``runs_app.services.run_counts``): no scrape after it
  counts task runs, which grow with history;
* the oldest Late run of each workspace is read through the ``ix_fr_ws_next_scheduled``
  index;
* scheduled runs per queue through the partial ``ix_fr_queue_next_scheduled`` index;
* workspaces, queues and concurrency limits are small tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone
from prometheus_client.core import Metric

from flows_app.models import WorkQueue
from orion_project.metrics import WORKSPACE_LABEL, gauge
from orion_project.models import Workspace
from orion_project.prepared import RowsByBody
from runs_app.models import (
    ConcurrencyLimit,
    FlowRun,
    FlowRunHistoryBucket,
    RunStateCount,
)
from runs_app.rollup.reads import NOT_IN_ROLLUP
from runs_app.rollup.writes import ALL_HOURS
from runs_app.services.run_counts import task_run_counts_store
from runs_app.states import StateName, StateType

STATE_TYPES: list[str] = StateType.values


# The scrape's statements read every workspace (a body names them where it matters), so
# they are compiled once per body, not per workspace.
EVERY_WORKSPACE = 0


@RowsByBody
def _workspaces(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any]:
    """Each workspace with its first Late run in its ``ix_fr_ws_next_scheduled`` order, a
    correlated read each: a grouped MIN over every workspace read all their Late runs
    instead (a bitmap of every Late run; 140,000 of them at 1M runs)."""
    first_late = (
        FlowRun.objects.late()
        .filter(workspace_id=OuterRef("id"), next_scheduled_start_time__isnull=False)
        .order_by("next_scheduled_start_time")
        .values("next_scheduled_start_time")[:1]
    )
    return Workspace.objects.order_by("id").annotate(oldest=Subquery(first_late)).values_list("id", "slug", "oldest")


@RowsByBody
def _flow_run_rows(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any]:
    """The workspaces' all-hours rows of the rollup and their runs outside it, in one
    statement (each part read through an index led by the workspace)."""
    ids = body["workspaces"]
    summed = FlowRunHistoryBucket.objects.filter(workspace_id__in=ids, flow_id=ALL_HOURS).values_list(
        "workspace_id", "state_type", "state_name", "count_runs"
    )
    outside = (
        FlowRun.objects.filter(NOT_IN_ROLLUP, workspace_id__in=ids, state_type__isnull=False)
        .values_list("workspace_id", "state_type", "state_name")
        .annotate(total=Count("id"))
        .order_by()
    )
    return summed.union(outside, all=True)


def _flow_run_counts(workspaces: dict[int, str]) -> dict[tuple[int, str, str], int]:
    """Flow runs per (workspace, state type, state name), live."""
    counts: dict[tuple[int, str, str], int] = {}
    for workspace_id, state_type, state_name, total in _flow_run_rows.rows(
        {"workspaces": list(workspaces)}, workspace_id=EVERY_WORKSPACE
    ):
        key = (workspace_id, state_type, state_name or "")
        counts[key] = counts.get(key, 0) + int(total)
    return counts


@RowsByBody
def _task_run_snapshot(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any]:
    return RunStateCount.objects.filter(
        kind=RunStateCount.Kind.TASK_RUN, workspace_id__in=body["workspaces"]
    ).values_list("workspace_id", "state_type", "count", "computed")


def _task_run_state_counts(workspaces: dict[int, str]) -> dict[int, tuple[dict[str, int], float]]:
    """Per workspace, task runs per state type from the snapshot and when they were
    counted; a workspace without a snapshot is counted now and its snapshot stored, so
    the next scrape reads it too."""
    answer: dict[int, tuple[dict[str, int], float]] = {}
    computed: dict[int, dt.datetime] = {}
    for workspace_id, state_type, count, at in _task_run_snapshot.rows(
        {"workspaces": list(workspaces)}, workspace_id=EVERY_WORKSPACE
    ):
        if workspace_id not in answer:
            answer[workspace_id] = dict.fromkeys(STATE_TYPES, 0), 0.0
        answer[workspace_id][0][state_type] = count
        computed[workspace_id] = min(at, computed.get(workspace_id, at))
    for workspace_id, at in computed.items():
        answer[workspace_id] = answer[workspace_id][0], at.timestamp()
    uncounted = [workspace_id for workspace_id in workspaces if workspace_id not in answer]
    for workspace_id, (counts, at) in task_run_counts_store(workspace_ids=uncounted).items():
        answer[workspace_id] = counts, at.timestamp()
    return answer


def run_metrics() -> Iterable[Metric]:
    """The run, queue and concurrency-limit gauges of ``/api/metrics``, per workspace."""
    now = timezone.now()
    workspaces: dict[int, str] = {}
    oldest: dict[int, dt.datetime | None] = {}
    for workspace_id, slug, oldest_time in _workspaces.rows({}, workspace_id=EVERY_WORKSPACE):
        workspaces[workspace_id] = slug
        oldest[workspace_id] = oldest_time
    by_state = _flow_run_counts(workspaces)
    flow_runs = gauge("orion_flow_runs", "Flow runs per state type (live).", [WORKSPACE_LABEL, "state_type"])
    per_type = {(workspace_id, state_type): 0 for workspace_id in workspaces for state_type in STATE_TYPES}
    late = dict.fromkeys(workspaces, 0)
    for (workspace_id, state_type, state_name), count in by_state.items():
        per_type[workspace_id, state_type] = per_type.get((workspace_id, state_type), 0) + count
        if (state_type, state_name) == (StateType.SCHEDULED, StateName.LATE):
            late[workspace_id] = late.get(workspace_id, 0) + count
    for (workspace_id, state_type), count in per_type.items():
        if workspace_id in workspaces:
            flow_runs.add_metric([workspaces[workspace_id], state_type], count)

    task_runs = gauge("orion_task_runs", "Task runs per state type.", [WORKSPACE_LABEL, "state_type"])
    computed = gauge(
        "orion_run_counts_computed_timestamp",
        "Unix time the per-state run counts were computed (flow runs: live; task runs: by the metrics service).",
        [WORKSPACE_LABEL, "kind"],
    )
    for workspace_id, (task_counts, computed_at) in sorted(_task_run_state_counts(workspaces).items()):
        slug = workspaces[workspace_id]
        for state_type, count in task_counts.items():
            task_runs.add_metric([slug, state_type], count)
        computed.add_metric([slug, RunStateCount.Kind.FLOW_RUN], now.timestamp())
        computed.add_metric([slug, RunStateCount.Kind.TASK_RUN], computed_at)

    late_count = gauge("orion_late_flow_runs", "Flow runs marked Late, not started yet.", [WORKSPACE_LABEL])
    oldest_late = gauge(
        "orion_oldest_late_flow_run_seconds",
        "How late the oldest Late flow run is, in seconds (0: none).",
        [WORKSPACE_LABEL],
    )
    for workspace_id, slug in workspaces.items():
        late_count.add_metric([slug], late.get(workspace_id, 0))
        oldest_time = oldest.get(workspace_id)
        seconds = max((now - oldest_time).total_seconds(), 0.0) if oldest_time is not None else 0.0
        oldest_late.add_metric([slug], seconds)
    return [
        flow_runs,
        task_runs,
        computed,
        late_count,
        oldest_late,
        *_work_queue_metrics(now, workspaces),
        *_concurrency_metrics(workspaces),
    ]


@RowsByBody
def _work_queues(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any]:
    """Every queue with its pool's name and its SCHEDULED runs, counted through the
    partial ``ix_fr_queue_next_scheduled``."""
    scheduled = (
        FlowRun.objects.filter(state_type=StateType.SCHEDULED, work_queue_id=OuterRef("id"))
        .order_by()
        .values("work_queue_id")
        .annotate(count=Count("id"))
        .values("count")
    )
    return (
        WorkQueue.objects.order_by("workspace_id", "work_pool__name", "name")
        .annotate(scheduled=Subquery(scheduled))
        .values_list("workspace_id", "work_pool__name", "name", "last_polled", "scheduled")
    )


def _work_queue_metrics(now: dt.datetime, workspaces: dict[int, str]) -> list[Metric]:
    labels = [WORKSPACE_LABEL, "work_pool", "work_queue"]
    runs = gauge("orion_work_queue_scheduled_runs", "SCHEDULED flow runs waiting in a work queue.", labels)
    polled = gauge(
        "orion_work_queue_last_polled_seconds",
        "Seconds since an agent or worker last polled the queue (absent: never polled).",
        labels,
    )
    for workspace_id, pool, name, last_polled, count in _work_queues.rows({}, workspace_id=EVERY_WORKSPACE):
        values = [workspaces.get(workspace_id, ""), pool, name]
        runs.add_metric(values, count or 0)
        if last_polled is not None:
            polled.add_metric(values, max((now - last_polled).total_seconds(), 0.0))
    return [runs, polled]


@RowsByBody
def _concurrency_limits(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any]:
    return ConcurrencyLimit.objects.order_by("workspace_id", "tag").values_list(
        "workspace_id", "tag", "active_slots", "concurrency_limit"
    )


def _concurrency_metrics(workspaces: dict[int, str]) -> list[Metric]:
    labels = [WORKSPACE_LABEL, "tag"]
    used = gauge("orion_concurrency_slots_used", "Task-run slots held under a tag concurrency limit.", labels)
    limit = gauge("orion_concurrency_slots_limit", "The tag's concurrency limit.", labels)
    for workspace_id, tag, active_slots, concurrency_limit in _concurrency_limits.rows(
        {}, workspace_id=EVERY_WORKSPACE
    ):
        values = [workspaces.get(workspace_id, ""), tag]
        used.add_metric(values, len(active_slots or []))
        limit.add_metric(values, concurrency_limit)
    return [used, limit]
