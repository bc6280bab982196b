"""Reads for the operator pages of the admin: a run's page and the runs dashboard.

Every query here is bounded (a page of rows, or an aggregate served by an index of
``runs_app.models``), so the pages stay quick on a table of a million runs, and reads one
workspace (``workspace_id``, leading the indexes of the run tables).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet

from flows_app.models import WorkQueue
from orion_project.filtering import MAX_PATTERN_LENGTH
from runs_app.models import ConcurrencyLimit, FlowRun, FlowRunState, Log, TaskRun, TaskRunState
from runs_app.states import ACTIVE_STATE_TYPES, StateType

LOG_TAIL = 200
RELATED_RUNS_SHOWN = 200


@dataclass
class RunPage:
    """What a run's admin page shows above its form."""

    states: list[FlowRunState | TaskRunState]
    logs: list[Log]
    log_count_capped: int
    task_runs: list[TaskRun] = field(default_factory=list)
    task_run_count: int = 0
    subflow_runs: list[FlowRun] = field(default_factory=list)
    parent_flow_run: FlowRun | None = None


def _log_tail(workspace_id: int, **run: uuid.UUID) -> tuple[list[Log], int]:
    """The last ``LOG_TAIL`` lines in time order, and how many there are up to one more
    than that (enough to say whether a link to the rest is needed)."""
    recent = Log.objects.filter(workspace_id=workspace_id, **run).order_by("-timestamp")
    newest_first = list(recent[: LOG_TAIL + 1])
    return list(reversed(newest_first[:LOG_TAIL])), len(newest_first)


def flow_run_page(*, flow_run: FlowRun, workspace_id: int) -> RunPage:
    """A flow run's state history, task runs, sub-flow runs and log tail."""
    logs, log_count = _log_tail(workspace_id, flow_run_id=flow_run.pk)
    task_runs = TaskRun.objects.filter(workspace_id=workspace_id, flow_run=flow_run).order_by(
        "expected_start_time", "created"
    )
    subflows = (
        FlowRun.objects.filter(workspace_id=workspace_id, parent_task_run__flow_run=flow_run)
        .select_related("flow")
        .order_by("expected_start_time")
    )
    states = FlowRunState.objects.filter(workspace_id=workspace_id, flow_run=flow_run)
    return RunPage(
        states=list(states.order_by("timestamp")),
        logs=logs,
        log_count_capped=log_count,
        task_runs=list(task_runs[:RELATED_RUNS_SHOWN]),
        task_run_count=task_runs.count(),
        subflow_runs=list(subflows[:RELATED_RUNS_SHOWN]),
    )


def task_run_page(*, task_run: TaskRun, workspace_id: int) -> RunPage:
    """A task run's state history, its log tail and the sub-flow run it stands for."""
    logs, log_count = _log_tail(workspace_id, task_run_id=task_run.pk)
    states = TaskRunState.objects.filter(workspace_id=workspace_id, task_run=task_run)
    subflows = FlowRun.objects.filter(workspace_id=workspace_id, parent_task_run=task_run)
    return RunPage(
        states=list(states.order_by("timestamp")),
        logs=logs,
        log_count_capped=log_count,
        subflow_runs=list(subflows.select_related("flow")),
    )


@dataclass
class QueueBacklog:
    queue: WorkQueue
    ready: int
    active: int


@dataclass
class Dashboard:
    """The admin's runs dashboard of one workspace."""

    workspace_id: int
    now: dt.datetime
    by_state: dict[str, dict[str, int]]
    late_count: int
    late_runs: list[FlowRun]
    queues: list[QueueBacklog]
    limits: list[ConcurrencyLimit]
    windows: dict[str, dt.datetime]


def _counts_by_state(runs: QuerySet[FlowRun], since: dt.datetime) -> dict[str, int]:
    # Naming every state type lets PostgreSQL answer from the (workspace, state_type,
    # expected_start_time) index alone, one range per type, instead of reading each row.
    rows = (
        runs.filter(state_type__in=list(StateType), expected_start_time__gte=since)
        .values("state_type")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {row["state_type"]: row["n"] for row in rows if row["state_type"]}


def _count_by_queue(runs: QuerySet[FlowRun]) -> dict[uuid.UUID, int]:
    rows = runs.filter(work_queue__isnull=False).values("work_queue").annotate(n=Count("pk")).order_by()
    return {row["work_queue"]: row["n"] for row in rows}


def runs_dashboard(*, now: dt.datetime, workspace_id: int, late_shown: int = 10) -> Dashboard:
    """Runs by state over 24 hours and 7 days, late runs, queue backlogs and slots used,
    in one workspace."""
    runs = FlowRun.objects.filter(workspace_id=workspace_id)
    windows = {"24h": now - dt.timedelta(hours=24), "7d": now - dt.timedelta(days=7)}
    by_state = {label: _counts_by_state(runs, since) for label, since in windows.items()}
    late = runs.late()
    # Two grouped counts, each served by an index (the partial scheduled-runs-by-queue
    # index, the workspace's state index), rather than one join of every queue with all its runs.
    ready = _count_by_queue(runs.filter(state_type=StateType.SCHEDULED, next_scheduled_start_time__lte=now))
    active = _count_by_queue(runs.filter(state_type__in=ACTIVE_STATE_TYPES))
    queues = sorted(
        (
            QueueBacklog(queue=queue, ready=ready.get(queue.pk, 0), active=active.get(queue.pk, 0))
            for queue in WorkQueue.objects.filter(workspace_id=workspace_id)
            .select_related("work_pool")
            .order_by("name")[:200]
        ),
        key=lambda row: (-row.ready, -row.active, row.queue.name),
    )
    return Dashboard(
        workspace_id=workspace_id,
        now=now,
        by_state=by_state,
        late_count=late.count(),
        late_runs=list(late.select_related("flow").order_by("expected_start_time")[:late_shown]),
        queues=queues,
        limits=list(ConcurrencyLimit.objects.filter(workspace_id=workspace_id).order_by("tag")[:100]),
        windows=windows,
    )


def state_rows(dashboard: Dashboard) -> list[dict[str, Any]]:
    """One row per state type with its 24 h and 7 day counts (types with no run are left out)."""
    rows = []
    for state_type in StateType:
        day = dashboard.by_state["24h"].get(state_type, 0)
        week = dashboard.by_state["7d"].get(state_type, 0)
        if day or week:
            rows.append({"type": state_type.value, "day": day, "week": week})
    return rows


HEX_DIGITS = frozenset("0123456789abcdef")


def runs_search(queryset: QuerySet[Any], term: str) -> QuerySet[Any]:
    """Runs whose name starts with ``term``, or whose id starts with it (hex digits,
    dashes allowed). Both are index range scans: the name prefix uses the name index
    (``text_pattern_ops`` on PostgreSQL), the id prefix becomes a primary-key range."""
    term = term.strip()
    if not term:
        return queryset
    # A LIKE prefix is bounded (SQLite refuses long patterns): a longer term is read up to
    # the bound, which can only widen the match.
    condition = Q(name__startswith=term[:MAX_PATTERN_LENGTH])
    bounds = uuid_prefix_range(term)
    if bounds is not None:
        condition |= Q(pk__gte=bounds[0], pk__lte=bounds[1])
    return queryset.filter(condition)


def uuid_prefix_range(term: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """``"8f8d0c"`` → the lowest and highest UUIDs starting with those hex digits."""
    digits = term.lower().replace("-", "")
    if not digits or len(digits) > 32 or not set(digits) <= HEX_DIGITS:
        return None
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))
