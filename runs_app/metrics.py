"""What ``/api/metrics`` reports about runs, queues and concurrency limits.

Every query here is sized for a database of millions of runs:

* flow runs per state (and so the Late ones) are live sums of the history rollup's
  all-flows rows (:func:`runs_app.selectors.runs.flow_run_counts_by_state`), a few thousand
  rows however many runs there are;
* task runs per state type come from :class:`~runs_app.models.RunStateCount`, a handful
  of rows the ``metrics`` service refreshes (one grouped count per pass), with a live
  count only when the service has never run;
* the oldest Late run is read through the ``ix_fr_next_scheduled`` index;
* scheduled runs per queue through the partial ``ix_fr_queue_next_scheduled`` index;
* queues and concurrency limits are small tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import Metric

from flows_app.models import WorkQueue
from orion_project.metrics import gauge
from runs_app.models import ConcurrencyLimit, FlowRun, RunStateCount, TaskRun
from runs_app.selectors.history import count_by_state_type
from runs_app.selectors.runs import flow_run_counts_by_state
from runs_app.states import StateName, StateType


def _task_run_state_counts() -> tuple[dict[str, int], float | None]:
    """Task runs per state type from the snapshot (or live, if there is none yet) and
    when they were computed (``None``: live)."""
    stored = list(RunStateCount.objects.filter(kind=RunStateCount.Kind.TASK_RUN))
    if not stored:
        return count_by_state_type(TaskRun.objects.all()), None
    counts = dict.fromkeys(StateType.values, 0)
    counts.update({row.state_type: row.count for row in stored})
    return counts, min(row.computed for row in stored).timestamp()


def run_metrics() -> Iterable[Metric]:
    """The run, queue and concurrency-limit gauges of ``/api/metrics``."""
    now = timezone.now()
    by_state = flow_run_counts_by_state()
    flow_runs = gauge("orion_flow_runs", "Flow runs per state type (live).", ["state_type"])
    per_type = dict.fromkeys(StateType.values, 0)
    for (state_type, _), count in by_state.items():
        per_type[state_type] = per_type.get(state_type, 0) + count
    for state_type, count in per_type.items():
        flow_runs.add_metric([state_type], count)

    task_counts, computed_at = _task_run_state_counts()
    task_runs = gauge("orion_task_runs", "Task runs per state type.", ["state_type"])
    for state_type, count in task_counts.items():
        task_runs.add_metric([state_type], count)
    computed = gauge(
        "orion_run_counts_computed_timestamp",
        "Unix time the per-state run counts were computed (flow runs: live; task runs: by the metrics service).",
        ["kind"],
    )
    computed.add_metric([RunStateCount.Kind.FLOW_RUN], now.timestamp())
    computed.add_metric([RunStateCount.Kind.TASK_RUN], computed_at if computed_at is not None else now.timestamp())

    late_count = gauge("orion_late_flow_runs", "Flow runs marked Late, not started yet.")
    late_count.add_metric([], by_state.get((StateType.SCHEDULED, StateName.LATE), 0))
    oldest = (
        FlowRun.objects.late().order_by("next_scheduled_start_time").values_list("next_scheduled_start_time", flat=True)
    )
    oldest_time = oldest.first()
    oldest_late = gauge(
        "orion_oldest_late_flow_run_seconds", "How late the oldest Late flow run is, in seconds (0: none)."
    )
    oldest_late.add_metric([], max((now - oldest_time).total_seconds(), 0.0) if oldest_time is not None else 0.0)
    return [
        flow_runs,
        task_runs,
        computed,
        late_count,
        oldest_late,
        *_work_queue_metrics(now),
        *_concurrency_metrics(),
    ]


def _work_queue_metrics(now: dt.datetime) -> list[Metric]:
    scheduled = dict(
        FlowRun.objects.filter(state_type=StateType.SCHEDULED, work_queue__isnull=False)
        .order_by()
        .values_list("work_queue_id")
        .annotate(count=Count("id"))
    )
    runs = gauge(
        "orion_work_queue_scheduled_runs", "SCHEDULED flow runs waiting in a work queue.", ["work_pool", "work_queue"]
    )
    polled = gauge(
        "orion_work_queue_last_polled_seconds",
        "Seconds since an agent or worker last polled the queue (absent: never polled).",
        ["work_pool", "work_queue"],
    )
    for queue in WorkQueue.objects.select_related("work_pool").order_by("work_pool__name", "name"):
        labels = [queue.work_pool.name, queue.name]
        runs.add_metric(labels, scheduled.get(queue.id, 0))
        if queue.last_polled is not None:
            polled.add_metric(labels, max((now - queue.last_polled).total_seconds(), 0.0))
    return [runs, polled]


def _concurrency_metrics() -> list[Metric]:
    used = gauge("orion_concurrency_slots_used", "Task-run slots held under a tag concurrency limit.", ["tag"])
    limit = gauge("orion_concurrency_slots_limit", "The tag's concurrency limit.", ["tag"])
    for row in ConcurrencyLimit.objects.order_by("tag"):
        used.add_metric([row.tag], len(row.active_slots or []))
        limit.add_metric([row.tag], row.concurrency_limit)
    return [used, limit]
