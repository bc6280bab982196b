"""Reads of flow runs and task runs, combining filters across resources (reference §C.1).

Filters on resources a run points to (its flow, its deployment, its flow run) become
joins through a column prefix; filters on resources that point at the run (its task
runs) become correlated ``EXISTS`` sub-queries.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Floor, Greatest
from django.utils import timezone

from flows_app.filters import DEPLOYMENT_FILTER, FLOW_FILTER, WORK_POOL_FILTER, WORK_QUEUE_FILTER
from orion_project.clock import add_clamped
from orion_project.db import DurationSeconds, EpochSeconds, RangeLabel, WithinRanges
from orion_project.exceptions import ObjectNotFoundError
from orion_project.filtering import Condition, FilterBody, combine, narrowed
from orion_project.prepared import StatementsByBody
from runs_app.filters import FLOW_RUN_FILTER, RELATED_RUN_AND_WORK_FILTERS, TASK_RUN_FILTER
from runs_app.models import ConcurrencyLimit, FlowRun, FlowRunHistoryBucket, TaskRun
from runs_app.rollup.writes import ALL_FLOWS, BUCKET, bucket_of
from runs_app.services import slots
from runs_app.states import TERMINAL_STATE_TYPES, StateType


def _deployment_condition(deployments: FilterBody, prefix: str) -> Condition:
    """Runs whose deployment matches; runs without a deployment never match."""
    if deployments is None:
        return None
    joined = Q(**{f"{prefix}deployment__isnull": False})
    return combine([joined, DEPLOYMENT_FILTER.to_q(deployments, f"{prefix}deployment__")], "and_")


def work_queue_condition(work_pools: FilterBody, work_pool_queues: FilterBody, prefix: str) -> Condition:
    """Rows whose work queue (``{prefix}work_queue``) and its pool match; rows without a
    work queue never match when either filter is given."""
    if work_pools is None and work_pool_queues is None:
        return None
    return combine(
        [
            Q(**{f"{prefix}work_queue__isnull": False}),
            WORK_QUEUE_FILTER.to_q(work_pool_queues, f"{prefix}work_queue__"),
            WORK_POOL_FILTER.to_q(work_pools, f"{prefix}work_queue__work_pool__"),
        ],
        "and_",
    )


def flow_run_exists(*, link: str, flow_runs: FilterBody, task_runs: FilterBody) -> Condition:
    """``EXISTS`` a flow run whose ``link`` column is the outer row and that matches
    ``flow_runs`` and (if given) has a task run matching ``task_runs``."""
    if flow_runs is None and task_runs is None:
        return None
    runs = FLOW_RUN_FILTER.apply(FlowRun.objects.filter(**{link: OuterRef("pk")}), flow_runs)
    if task_runs is not None:
        tasks = TASK_RUN_FILTER.apply(TaskRun.objects.filter(flow_run_id=OuterRef("pk")), task_runs)
        runs = runs.filter(Exists(tasks))
    return Q(Exists(runs))


def flow_runs_matching(*, filters: FilterBody) -> QuerySet[FlowRun]:
    """Flow runs matching every filter key of a validated query body (reference §C.1).

    ``filters`` is the body of ``/flow_runs/filter``, ``/count``, ``/history``, lateness and
    the UI routes (keys of :data:`runs_app.filters.RELATED_RUN_AND_WORK_FILTERS`; other keys,
    such as ``sort`` or ``limit``, are not read here), so every route that filters flow runs
    reads the same conditions and a count can never drift from its list.
    """
    body = filters or {}
    conditions: list[Condition] = [
        FLOW_RUN_FILTER.to_q(body.get("flow_runs")),
        FLOW_FILTER.to_q(body.get("flows"), "flow__"),
        _deployment_condition(body.get("deployments"), ""),
        work_queue_condition(body.get("work_pools"), body.get("work_pool_queues"), ""),
    ]
    if body.get("task_runs") is not None:
        tasks = TASK_RUN_FILTER.apply(TaskRun.objects.filter(flow_run_id=OuterRef("pk")), body["task_runs"])
        conditions.append(Q(Exists(tasks)))
    return narrowed(FlowRun.objects.all(), conditions)


def task_runs_matching(*, filters: FilterBody) -> QuerySet[TaskRun]:
    """Task runs matching every filter key of a validated query body; the flow, flow-run
    and deployment filters apply to the task's flow run (a task run without one never
    matches them)."""
    body = filters or {}
    flows, flow_runs = body.get("flows"), body.get("flow_runs")
    conditions: list[Condition] = [
        TASK_RUN_FILTER.to_q(body.get("task_runs")),
        FLOW_RUN_FILTER.to_q(flow_runs, "flow_run__"),
        FLOW_FILTER.to_q(flows, "flow_run__flow__"),
        _deployment_condition(body.get("deployments"), "flow_run__"),
    ]
    if flow_runs is not None or flows is not None:
        conditions.append(Q(flow_run__isnull=False))
    return narrowed(TaskRun.objects.all(), conditions)


# ------------------------------------------------------------------------------ history

MAX_HISTORY_INTERVALS = 500


def estimated_run_time_seconds(now: dt.datetime) -> Any:
    """SQL for ``Run.estimated_run_time_at(now)``: stored run time plus the current
    RUNNING stretch, in seconds."""
    now_epoch = Value(now.timestamp(), output_field=FloatField())
    return DurationSeconds(F("total_run_time")) + Case(
        When(
            state_type=StateType.RUNNING,
            state_timestamp__isnull=False,
            then=Greatest(now_epoch - EpochSeconds(F("state_timestamp")), Value(0.0)),
        ),
        default=Value(0.0),
        output_field=FloatField(),
    )


def lateness_seconds(now: dt.datetime) -> Any:
    """SQL for ``Run.lateness_at(now)`` (``estimated_start_time_delta``), in seconds."""
    now_epoch = Value(now.timestamp(), output_field=FloatField())
    expected = EpochSeconds(F("expected_start_time"))
    return Case(
        When(start_time__isnull=False, then=Greatest(EpochSeconds(F("start_time")) - expected, Value(0.0))),
        When(
            Q(expected_start_time__lt=now) & ~Q(state_type__in=list(TERMINAL_STATE_TYPES)),
            then=now_epoch - expected,
        ),
        default=Value(0.0),
        output_field=FloatField(),
    )


def average_lateness(queryset: QuerySet[FlowRun], *, now: dt.datetime) -> float | None:
    """Mean ``estimated_start_time_delta`` of the runs, in seconds (one aggregate query)."""
    value = queryset.aggregate(average=Avg(lateness_seconds(now)))["average"]
    return None if value is None else float(value)


def count_by_state_type(queryset: QuerySet[Any]) -> dict[str, int]:
    """How many of the runs are in each state type; every type is present (one query)."""
    counts = dict.fromkeys(StateType.values, 0)
    for row in queryset.order_by().values("state_type").annotate(count=Count("id")):
        if row["state_type"] in counts:
            counts[row["state_type"]] = row["count"]
    return counts


def _interval_bounds(
    start: dt.datetime, end: dt.datetime, interval: dt.timedelta
) -> list[tuple[dt.datetime, dt.datetime]]:
    bounds: list[tuple[dt.datetime, dt.datetime]] = []
    cursor = start
    while cursor < end and len(bounds) < MAX_HISTORY_INTERVALS:
        upper = add_clamped(cursor, interval)
        bounds.append((cursor, upper))
        if upper == cursor:  # the calendar ended: no further interval exists
            break
        cursor = upper
    return bounds


HistorySums = dict[tuple[int, str, str], list[float]]  # (interval, state type, name) → count, run time, lateness


def _scanned_history(
    queryset: QuerySet[Any],
    *,
    start: dt.datetime,
    bounds: list[tuple[dt.datetime, dt.datetime]],
    now: dt.datetime,
    taken_from: Any = None,
) -> HistorySums:
    """The runs of ``queryset`` in the intervals, summed by one grouped query over the rows.

    ``taken_from``: an SQL expression giving, for rows the rollup already counted in
    another interval, that interval's index (else NULL); their sums are taken away from it.
    """
    seconds = (bounds[0][1] - bounds[0][0]).total_seconds()
    expected = EpochSeconds(F("expected_start_time"))
    rows = queryset.annotate(
        bucket=Floor((expected - Value(start.timestamp())) / Value(seconds)),
        run_time=estimated_run_time_seconds(now),
        lateness=lateness_seconds(now),
    )
    if taken_from is None:
        rows = rows.filter(expected_start_time__gte=start, expected_start_time__lt=bounds[-1][1])
    keys = ["bucket", "state_type", "state_name"] + (["taken_from"] if taken_from is not None else [])
    grouped = (
        rows.annotate(**({"taken_from": taken_from} if taken_from is not None else {}))
        .values(*keys)
        .annotate(count_runs=Count("id"), run_time_sum=Sum("run_time"), lateness_sum=Sum("lateness"))
        .order_by()
    )
    sums: HistorySums = {}
    for row in grouped:
        values = (row["count_runs"], row["run_time_sum"] or 0.0, row["lateness_sum"] or 0.0)
        targets = [(int(row["bucket"]), 1)]
        if row.get("taken_from") is not None:
            targets.append((int(row["taken_from"]), -1))
        for index, sign in targets:
            if 0 <= index < len(bounds):
                total = sums.setdefault((index, row["state_type"], row["state_name"]), [0, 0.0, 0.0])
                for position, value in enumerate(values):
                    total[position] += sign * value
    return sums


def _history_answer(bounds: list[tuple[dt.datetime, dt.datetime]], sums: HistorySums) -> list[dict[str, Any]]:
    states: dict[int, list[dict[str, Any]]] = {}
    for (index, state_type, state_name), (count, run_time, lateness) in sorted(sums.items()):
        if count <= 0:
            continue
        states.setdefault(index, []).append(
            {
                "state_type": state_type,
                "state_name": state_name,
                "count_runs": int(count),
                "sum_estimated_run_time": max(run_time, 0.0),
                "sum_estimated_lateness": max(lateness, 0.0),
            }
        )
    return [
        {"interval_start": lower, "interval_end": upper, "states": states.get(index, [])}
        for index, (lower, upper) in enumerate(bounds)
    ]


def run_history(
    queryset: QuerySet[Any],
    *,
    start: dt.datetime,
    end: dt.datetime,
    interval: dt.timedelta,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Runs bucketed by ``expected_start_time`` into intervals from ``start`` (§G.5).

    One aggregate query groups by (interval index, state type, state name); the Python
    side only lays the rows into the interval list, so the query count does not grow
    with the number of intervals.
    """
    bounds = _interval_bounds(start, end, interval)
    if not bounds:
        return []
    return _history_answer(bounds, _scanned_history(queryset, start=start, bounds=bounds, now=now))


def task_run_history(
    *, start: dt.datetime, end: dt.datetime, interval: dt.timedelta, now: dt.datetime, filters: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """``POST /task_runs/history``: the matching task runs, read and bucketed."""
    return run_history(task_runs_matching(filters=filters), start=start, end=end, interval=interval, now=now)


@dataclass(frozen=True)
class RollupScope:
    """What of a filter body the history rollup can answer: the flows (``None``: every
    flow, i.e. the all-flows rows) and a condition on ``state_type`` / ``state_name``,
    columns the rollup rows share with the runs."""

    flow_ids: list[Any] | None
    states: Condition


def _given(body: Any) -> dict[str, Any]:
    return {key: value for key, value in (body or {}).items() if value is not None}


def rollup_scope(filters: Mapping[str, Any]) -> RollupScope | None:
    """The rollup's reading of a validated filter body, or ``None`` when it has no column
    for one of its conditions (the runs must be read).

    It can answer no filter at all, ``flows: {id: {any_: [...]}}`` and ``flow_runs:
    {state: {type: {any_}, name: {any_}}}``, alone or together.
    """
    given = {key: filters.get(key) for key in RELATED_RUN_AND_WORK_FILTERS if filters.get(key) is not None}
    if set(given) - {"flows", "flow_runs"}:
        return None
    flow_ids: list[Any] | None = None
    if "flows" in given:
        flows = _given(given["flows"])
        ids = _given(flows.get("id"))
        if set(flows) - {"id", "operator"} or set(ids) != {"any_"}:
            return None
        flow_ids = list(ids["any_"])
    flow_runs = _given(given.get("flow_runs"))
    state = _given(flow_runs.get("state"))
    if set(flow_runs) - {"state", "operator"} or set(state) - {"type", "name", "operator"}:
        return None
    # A run without a state name is summed under "" in the rollup; the runs never match "".
    if "" in (_given(state.get("name")).get("any_") or ()):
        return None
    return RollupScope(flow_ids, FLOW_RUN_FILTER.to_q(flow_runs))


def rollup_rows(scope: RollupScope) -> QuerySet[Any]:
    """The rollup rows in ``scope``: the all-flows rows, or the given flows' rows."""
    rows = FlowRunHistoryBucket.objects.all()
    if scope.flow_ids is None:
        rows = rows.filter(flow_id=ALL_FLOWS)
    else:  # the nil UUID names the all-flows rows, never a flow a client may ask for
        rows = rows.filter(flow_id__in=scope.flow_ids).exclude(flow_id=ALL_FLOWS)
    return narrowed(rows, [scope.states])


def outside_rollup(runs: QuerySet[FlowRun]) -> QuerySet[FlowRun]:
    """Of ``runs``, those the rollup does not hold (no state or no expected start: a run
    before its first state write); a few at most, found through two indexes."""
    return runs.filter(Q(expected_start_time__isnull=True) | Q(state_type__isnull=True))


_COUNT_STATEMENTS: StatementsByBody[tuple[str, tuple[Any, ...]] | None] = StatementsByBody()


def flow_run_count(*, filters: Mapping[str, Any]) -> int:
    """``POST /flow_runs/count``: from the rollup when it can answer (a sum over a few
    thousand rows however many runs there are), else by counting the matching runs.
    Either way one statement (the rollup's sum and the count of the runs outside it are
    added up in the database), compiled once per distinct body."""
    body = {key: filters.get(key) for key in RELATED_RUN_AND_WORK_FILTERS}
    statement = _COUNT_STATEMENTS.get(connection.alias, body, lambda: _count_statement(body))
    if statement is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        return int(cursor.fetchone()[0] or 0)


def _count_statement(filters: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]] | None:
    """The SQL of :func:`flow_run_count` for a body; ``None`` if it can match nothing."""
    runs = flow_runs_matching(filters=filters)
    scope = rollup_scope(filters)
    try:
        if scope is None:
            counted, params = runs.order_by().values("id").query.sql_with_params()
            return f"SELECT COUNT(*) FROM ({counted}) matching", tuple(params)
        summed, summed_params = rollup_rows(scope).order_by().values("count_runs").query.sql_with_params()
        outside, outside_params = outside_rollup(runs).order_by().values("id").query.sql_with_params()
    except EmptyResultSet:
        return None  # e.g. an empty any_ list: Django proves no row matches
    sql = (
        f"SELECT (SELECT COALESCE(SUM(rollup.count_runs), 0) FROM ({summed}) rollup)"
        f" + (SELECT COUNT(*) FROM ({outside}) outside_rollup)"
    )
    return sql, (*summed_params, *outside_params)


def flow_run_counts_by_state() -> dict[tuple[str, str], int]:
    """Flow runs per (state type, state name), live: the rollup's all-flows rows plus
    the runs outside the rollup (``/api/metrics``)."""
    summed = (
        rollup_rows(RollupScope(flow_ids=None, states=None))
        .values_list("state_type", "state_name")
        .annotate(total=Sum("count_runs"))
        .order_by()
    )
    outside = (
        outside_rollup(FlowRun.objects.all())
        .filter(state_type__isnull=False)
        .values_list("state_type", "state_name")
        .annotate(total=Count("id"))
        .order_by()
    )
    counts: dict[tuple[str, str], int] = {}
    for state_type, state_name, total in [*summed, *outside]:
        key = (state_type, state_name or "")
        counts[key] = counts.get(key, 0) + int(total)
    return {key: total for key, total in counts.items() if total > 0}


def flow_run_history(
    *,
    start: dt.datetime,
    end: dt.datetime,
    interval: dt.timedelta,
    now: dt.datetime,
    filters: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """``POST /flow_runs/history``: from the hourly rollup where it can answer, else by
    reading the runs.

    Each interval takes from the rollup the hours whose middle it holds (hours ended
    before ``now`` only: lateness of a run not started yet depends on whether ``now``
    passed its expected start). Of an hour an interval bound cuts, the interval with
    the larger part takes the whole hour, and the smaller part is read from the runs:
    added to its own interval and taken away from the one that took the hour. What no
    taken hour covers (the current hour) is read from the runs too. So the runs read
    are a sliver around each bound, not whole hours. Filters the rollup has no columns
    for (see :func:`rollup_scope`), and intervals shorter than an hour, send the whole
    request to ``run_history``.
    """
    scope = rollup_scope(filters)
    queryset = flow_runs_matching(filters=filters)
    bounds = _interval_bounds(start, end, interval)
    if scope is None or not bounds or bounds[0][1] - bounds[0][0] < BUCKET:
        return run_history(queryset, start=start, end=end, interval=interval, now=now)
    plan = _HistoryPlan.of(bounds, now)
    sums: HistorySums = {}
    if plan.read:
        taken_from = RangeLabel("expected_start_time", [(index, *sliver) for index, sliver in plan.slivers])
        sums = _scanned_history(
            queryset.filter(WithinRanges("expected_start_time", plan.read)),
            start=start,
            bounds=bounds,
            now=now,
            taken_from=taken_from if plan.slivers else None,
        )
    if plan.taken:
        _add_rollup_hours(sums, scope, plan.taken, start=start, bounds=bounds, now=now)
    return _history_answer(bounds, sums)


def _ceil_hour(moment: dt.datetime) -> dt.datetime:
    """The first rollup hour starting at or after ``moment``."""
    floor = bucket_of(moment)
    return floor if floor == moment else add_clamped(floor, BUCKET)


# An hour is taken by the interval holding its middle only when the middle is this far
# from the interval's bounds, so float rounding of epoch seconds in SQL cannot put it in
# the neighbouring interval; an hour cut nearer its middle is read from the runs.
_MIDDLE_MARGIN = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class _HistoryPlan:
    """How a history request splits between the rollup and the runs.

    ``taken``: per interval, the range of whole hours it takes from the rollup;
    ``read``: the merged ranges of expected start read from the runs;
    ``slivers``: (interval, range) pairs, parts of an interval's taken hours that lie
    outside it: read from the runs and taken away from that interval.
    """

    taken: list[tuple[dt.datetime, dt.datetime]]
    read: list[tuple[dt.datetime, dt.datetime]]
    slivers: list[tuple[int, tuple[dt.datetime, dt.datetime]]]

    @classmethod
    def of(cls, bounds: list[tuple[dt.datetime, dt.datetime]], now: dt.datetime) -> _HistoryPlan:
        half = BUCKET / 2
        taken: list[tuple[dt.datetime, dt.datetime]] = []
        pieces: list[tuple[dt.datetime, dt.datetime]] = []
        slivers: list[tuple[int, tuple[dt.datetime, dt.datetime]]] = []
        for index, (lower, upper) in enumerate(bounds):
            # Hours h with lower + margin <= h + 30 min < upper - margin and h + 1 h <= now.
            first = _ceil_hour(lower + _MIDDLE_MARGIN - half)
            last = min(_ceil_hour(upper - _MIDDLE_MARGIN - half), bucket_of(now))
            if first >= last:
                pieces.append((lower, upper))
                continue
            taken.append((first, last))
            pieces += [(lower, first), (last, upper)]
            for sliver in ((first, lower), (upper, last)):
                if sliver[0] < sliver[1]:
                    slivers.append((index, sliver))
                    pieces.append(sliver)  # inside a neighbour's part, or outside the window
        read: list[tuple[dt.datetime, dt.datetime]] = []
        for lower, upper in sorted(piece for piece in pieces if piece[0] < piece[1]):
            if read and read[-1][1] >= lower:
                read[-1] = (read[-1][0], max(read[-1][1], upper))
            else:
                read.append((lower, upper))
        return cls(taken, read, slivers)


def _add_rollup_hours(
    sums: HistorySums,
    scope: RollupScope,
    taken: list[tuple[dt.datetime, dt.datetime]],
    *,
    start: dt.datetime,
    bounds: list[tuple[dt.datetime, dt.datetime]],
    now: dt.datetime,
) -> None:
    """Add the rollup's sums of the ``taken`` hours to ``sums``, grouped per interval in
    the database (one row per interval and state, not one per hour): an hour belongs to
    the interval holding its middle (see :data:`_MIDDLE_MARGIN`)."""
    seconds = (bounds[0][1] - bounds[0][0]).total_seconds()
    middle = EpochSeconds(F("bucket")) + Value(BUCKET.total_seconds() / 2)
    rows = (
        rollup_rows(scope)
        .filter(WithinRanges("bucket", taken), bucket__gte=taken[0][0], bucket__lt=taken[-1][1])
        .annotate(interval=Floor((middle - Value(start.timestamp())) / Value(seconds)))
        .values("interval", "state_type", "state_name")
        .annotate(
            count=Sum("count_runs"),
            run_time=Sum("run_time_sum"),
            running_since=Sum("running_since_sum"),
            started_lateness=Sum("started_lateness_sum"),
            unstarted=Sum("unstarted_count"),
            unstarted_expected=Sum("unstarted_expected_sum"),
        )
        .order_by()
    )
    now_epoch = now.timestamp()
    for row in rows:
        index = int(row["interval"])
        if not 0 <= index < len(bounds):
            continue
        running = row["count"] if row["state_type"] == StateType.RUNNING else 0
        total = sums.setdefault((index, row["state_type"], row["state_name"]), [0, 0.0, 0.0])
        total[0] += row["count"]
        total[1] += row["run_time"] + running * now_epoch - row["running_since"]
        total[2] += row["started_lateness"] + row["unstarted"] * now_epoch - row["unstarted_expected"]


def flow_run_graph_task_runs(flow_run_id: uuid.UUID) -> QuerySet[TaskRun]:
    """The task runs drawn in a flow run's graph (§G.6); 404 if the flow run is unknown."""
    if not FlowRun.objects.filter(pk=flow_run_id).exists():
        raise ObjectNotFoundError(f"Flow run with id {flow_run_id} not found")
    return TaskRun.objects.filter(flow_run_id=flow_run_id).select_related("state").order_by("expected_start_time")


# ------------------------------------------------------------------ work queue polling


def scheduled_runs_for_queues(
    queues: list[Any],
    *,
    limit: int,
    scheduled_before: dt.datetime | None = None,
    scheduled_after: dt.datetime | None = None,
) -> list[tuple[Any, FlowRun]]:
    """SCHEDULED runs an agent or worker may start now, as ``(queue, run)`` pairs.

    Queues are taken in the order given (priority order for pools); paused queues give
    nothing; a queue with a concurrency limit gives at most its free slots (limit minus
    its PENDING/RUNNING/CANCELLING runs). Runs come in next-scheduled order, then id.
    One query counts the busy runs of every queue, then one query per non-empty queue.
    """
    from runs_app.states import ACTIVE_STATE_TYPES

    open_queues = [queue for queue in queues if not queue.is_paused]
    busy = (
        dict(
            FlowRun.objects.filter(work_queue__in=open_queues, state_type__in=list(ACTIVE_STATE_TYPES))
            .order_by()
            .values_list("work_queue_id")
            .annotate(count=Count("id"))
        )
        if any(queue.concurrency_limit is not None for queue in open_queues)
        else {}
    )
    picked: list[tuple[Any, FlowRun]] = []
    for queue in open_queues:
        room = limit - len(picked)
        if queue.concurrency_limit is not None:
            room = min(room, queue.concurrency_limit - busy.get(queue.id, 0))
        if room <= 0:
            continue
        runs = FlowRun.objects.filter(work_queue=queue, state_type=StateType.SCHEDULED)
        if scheduled_before is not None:
            runs = runs.filter(next_scheduled_start_time__lte=scheduled_before)
        if scheduled_after is not None:
            runs = runs.filter(next_scheduled_start_time__gte=scheduled_after)
        runs = runs.select_related("state", "work_queue__work_pool").order_by("next_scheduled_start_time", "id")
        picked.extend((queue, run) for run in runs[:room])
        if len(picked) >= limit:
            break
    return picked


@dataclass(frozen=True)
class SlotHolder:
    """Who holds a slot of a tag concurrency limit, since when, and whether it is stale."""

    tag: str
    task_run_id: str
    name: str | None
    state: str | None
    flow_run_id: uuid.UUID | None
    flow_run_state: str | None
    since: dt.datetime | None
    stale: str | None


def concurrency_limit_holders(*, limit: ConcurrencyLimit) -> list[SlotHolder]:
    """The holders of ``limit``'s slots in the order they took them (one query)."""
    holder_ids = [slot for slot in limit.active_slots or [] if _is_uuid(slot)]
    rows = {
        str(row["id"]): row
        for row in TaskRun.objects.filter(id__in=holder_ids).values(
            "id", "name", "state_type", "flow_run_id", "flow_run__state_type"
        )
    }
    now = timezone.now()
    holders = []
    for slot in limit.active_slots or []:
        row = rows.get(slot)
        states = (row["state_type"], row["flow_run__state_type"]) if row else None
        holders.append(
            SlotHolder(
                tag=limit.tag,
                task_run_id=slot,
                name=row["name"] if row else None,
                state=row["state_type"] if row else None,
                flow_run_id=row["flow_run_id"] if row else None,
                flow_run_state=row["flow_run__state_type"] if row else None,
                since=slots.acquired_at(limit, slot),
                stale=slots.stale_reason(limit, slot, states, now),
            )
        )
    return holders


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
