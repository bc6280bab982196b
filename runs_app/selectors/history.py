"""Run history: runs per interval and state with their run time and lateness (``/flow_runs/history``, ``/task_runs/history``), read from the runs or, for flow runs, mostly from the hourly rollup."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Floor, Greatest

from orion_project.clock import add_clamped
from orion_project.db import DurationSeconds, EpochSeconds, IntervalIndex, WithinRanges
from runs_app.filters import RELATED_RUN_AND_WORK_FILTERS, RELATED_RUN_FILTERS
from runs_app.models import FlowRun, estimated_lateness, estimated_run_time
from runs_app.rollup.compiled import (
    Given,
    given_float,
    index_shape,
    ranges_given,
    ranges_values,
    shape_rows,
    unit_number,
)
from runs_app.rollup.plan import MinuteOrHourTaker, Taker, split_at_bounds
from runs_app.rollup.reads import RollupScope, rollup_minute_rows, rollup_rows, rollup_scope
from runs_app.rollup.writes import BUCKET, MINUTE, bucket_of
from runs_app.selectors.runs import flow_runs_in_order, flow_runs_matching, task_runs_matching, work_queue_condition
from runs_app.states import TERMINAL_STATE_TYPES, StateType

MAX_HISTORY_INTERVALS = 500


# The values a history's statements are given at each execution (see
# :mod:`runs_app.rollup.compiled`).
NOW = Given("now")
NOW_EPOCH = given_float("now_epoch")


def _now_epoch(now: dt.datetime | Given) -> Any:
    return NOW_EPOCH if isinstance(now, Given) else Value(now.timestamp(), output_field=FloatField())


def estimated_run_time_seconds(now: dt.datetime | Given) -> Any:
    """SQL for ``Run.estimated_run_time_at(now)``: stored run time plus the current
    RUNNING stretch, in seconds (``now``: a datetime, or :data:`NOW` given later)."""
    return DurationSeconds(F("total_run_time")) + Case(
        When(
            state_type=StateType.RUNNING,
            state_timestamp__isnull=False,
            then=Greatest(_now_epoch(now) - EpochSeconds(F("state_timestamp")), Value(0.0)),
        ),
        default=Value(0.0),
        output_field=FloatField(),
    )


def lateness_seconds(now: dt.datetime | Given) -> Any:
    """SQL for ``Run.lateness_at(now)`` (``estimated_start_time_delta``), in seconds."""
    expected = EpochSeconds(F("expected_start_time"))
    return Case(
        When(start_time__isnull=False, then=Greatest(EpochSeconds(F("start_time")) - expected, Value(0.0))),
        When(
            Q(expected_start_time__lt=now) & ~Q(state_type__in=list(TERMINAL_STATE_TYPES)),
            then=_now_epoch(now) - expected,
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


@dataclass(frozen=True)
class RunsRead:
    """The runs a history reads: ``build`` makes their queryset; ``key`` names it (what
    they are, the workspace, the filter body) for the statements compiled once per
    shape, ``None`` to compile them at each request."""

    key: tuple[Any, ...] | None
    build: Callable[[], QuerySet[Any]]


def _scanned_history(
    runs: RunsRead,
    *,
    start: dt.datetime,
    bounds: list[tuple[dt.datetime, dt.datetime]],
    now: dt.datetime,
    taker: Taker | MinuteOrHourTaker | None = None,
    read: list[tuple[dt.datetime, dt.datetime]] | None = None,
) -> HistorySums:
    """The runs of ``runs`` in the intervals, summed by one grouped query over the rows.

    ``read``: the ranges of expected start the runs are limited to, when not the window
    (the first starts earliest, the last ends latest).

    ``taker``: for the hour (or minute) a run's expected start is in, the interval that
    took that unit's sums from the rollup, if any; a run of such a unit that belongs to
    another interval is moved: added to its own and taken away from the taker. The runs
    are then grouped by that unit too, and the taker is asked per group in Python rather
    than per row in SQL (a ``CASE`` over every cut hour was a large part of reading the
    runs).
    """
    earliest, latest = (start, bounds[-1][1]) if read is None else (read[0][0], read[-1][1])
    bucket = IntervalIndex(
        "expected_start_time",
        start=start,
        width=bounds[0][1] - bounds[0][0],
        earliest=earliest,
        latest=latest,
        start_sql=Given("start"),
    )
    unit = None if taker is None else taker.unit
    anchor = bucket_of(earliest)
    unit_index = None if unit is None else unit_number("expected_start_time", unit, anchor, earliest, latest)

    def build() -> QuerySet[Any]:
        rows = runs.build()
        if read is not None:
            rows = rows.filter(WithinRanges("expected_start_time", ranges_given("read", len(read))))
        rows = rows.annotate(bucket=bucket, run_time=estimated_run_time_seconds(NOW), lateness=lateness_seconds(NOW))
        keys = ["bucket", "state_type", "state_name"]
        if unit is None:
            rows = rows.filter(expected_start_time__gte=Given("start"), expected_start_time__lt=Given("end"))
        else:
            rows = rows.annotate(unit=unit_index)
            keys.append("unit")
        return (
            rows.values(*keys)
            .annotate(count_runs=Count("id"), run_time_sum=Sum("run_time"), lateness_sum=Sum("lateness"))
            .order_by()
            .values_list(*keys, "count_runs", "run_time_sum", "lateness_sum")
        )

    shape = (
        index_shape(bucket),
        None if read is None else len(read),
        None if unit_index is None else index_shape(unit_index),
    )
    values: dict[Any, Any] = {"start": start, "end": bounds[-1][1], "now": now, "anchor": anchor}
    values["now_epoch"] = now.timestamp()
    if read is not None:
        values.update(ranges_values("read", read))
    rows = shape_rows(None if runs.key is None else ("runs", *runs.key, *shape), build, values)
    sums: HistorySums = {}
    for row in rows:
        count, run_time, lateness = int(row[-3]), float(row[-2] or 0.0), float(row[-1] or 0.0)
        taken_by = None if taker is None or unit is None else taker(anchor + int(row[3]) * unit)
        _move(sums, bounds, (row[1], row[2]), (count, run_time, lateness), int(row[0]), taken_by)
    return sums


def _move(
    sums: HistorySums,
    bounds: list[tuple[dt.datetime, dt.datetime]],
    state: tuple[str, str],
    values: tuple[float, float, float],
    index: int,
    taken_by: int | None,
) -> None:
    """Add ``values`` to interval ``index``, and take them away from the interval
    ``taken_by`` that counted them with a coarser unit it took, if another one did;
    indexes outside the window are dropped."""
    targets = [(index, 1)]
    if taken_by is not None and taken_by != index:
        targets.append((taken_by, -1))
    for target, sign in targets:
        if 0 <= target < len(bounds):
            total = sums.setdefault((target, *state), [0, 0.0, 0.0])
            for position, value in enumerate(values):
                total[position] += sign * value


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
    queryset: QuerySet[Any] | RunsRead,
    *,
    start: dt.datetime,
    end: dt.datetime,
    interval: dt.timedelta,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Runs bucketed by ``expected_start_time`` into intervals from ``start`` (§G.5).

    One aggregate query groups by (interval index, state type, state name); the Python
    side only lays the rows into the interval list, so the query count does not grow
    with the number of intervals. A queryset is read by a statement compiled now; a
    :class:`RunsRead` with a key, by one compiled once per shape.
    """
    bounds = _interval_bounds(start, end, interval)
    if not bounds:
        return []
    runs = queryset if isinstance(queryset, RunsRead) else RunsRead(None, lambda: queryset)
    return _history_answer(bounds, _scanned_history(runs, start=start, bounds=bounds, now=now))


def _runs_read(
    kind: str,
    matching: Callable[..., QuerySet[Any]],
    keys: Iterable[str],
    filters: Mapping[str, Any],
    workspace_id: int,
) -> RunsRead:
    """The workspace's runs matching the filter ``keys`` of ``filters`` (``matching``: the
    filter engine's read of flow runs or task runs), keyed by them: the request's other
    keys (its window) are given to the statement."""
    body = {key: filters.get(key) for key in keys}
    return RunsRead((kind, workspace_id, body), lambda: matching(filters=body, workspace_id=workspace_id))


def task_run_history(
    *,
    start: dt.datetime,
    end: dt.datetime,
    interval: dt.timedelta,
    now: dt.datetime,
    filters: Mapping[str, Any],
    workspace_id: int,
) -> list[dict[str, Any]]:
    """``POST /task_runs/history``: the workspace's matching task runs, read and bucketed."""
    runs = _runs_read("task_runs", task_runs_matching, RELATED_RUN_FILTERS, filters, workspace_id)
    return run_history(runs, start=start, end=end, interval=interval, now=now)


def flow_run_history(
    *,
    start: dt.datetime,
    end: dt.datetime,
    interval: dt.timedelta,
    now: dt.datetime,
    filters: Mapping[str, Any],
    workspace_id: int,
) -> list[dict[str, Any]]:
    """``POST /flow_runs/history``: from the workspace's rollup where it can answer,
    else by reading the workspace's runs.

    Each interval takes from the rollup the hours whose middle it holds, but the hour
    ``now`` is in (lateness of a run not started yet depends on whether ``now`` passed
    its expected start: for a whole hour before ``now`` it has, after it it has not). Of
    an hour an interval bound cuts, the interval with
    the larger part takes the whole hour, and the smaller part is corrected: added to
    its own interval and taken away from the one that took the hour. Without a flow
    filter, the smaller part is itself taken from the all-flows rows per minute in the
    same way (each minute by the interval holding its middle), so the runs read are a
    part of a minute around each bound, however many runs an hour holds; with one, its
    runs are read. What no taken unit covers (the current minute) is read from the runs
    too. Filters the rollup has no columns for (see :func:`rollup_scope`), and intervals
    shorter than an hour, send the whole request to ``run_history``.

    Each of the (up to three) statements is compiled once per shape of request (the
    body, the interval's width, how many ranges it reads), its times given at each
    request (:mod:`runs_app.rollup.compiled`).
    """
    scope = rollup_scope(filters)
    runs = _runs_read("flow_runs", flow_runs_matching, RELATED_RUN_AND_WORK_FILTERS, filters, workspace_id)
    bounds = _interval_bounds(start, end, interval)
    if scope is None or not bounds or bounds[0][1] - bounds[0][0] < BUCKET:
        return run_history(runs, start=start, end=end, interval=interval, now=now)
    hours = Taker.of(BUCKET, [(lower, upper, index) for index, (lower, upper) in enumerate(bounds)], now)
    by_minute = scope.flow_ids is None  # the rollup keeps minutes for all flows only
    minutes = Taker.of(MINUTE, split_at_bounds(hours.read, bounds), now) if by_minute else None
    sums: HistorySums = {}
    read = hours.read if minutes is None else minutes.read
    if read:
        taker = hours if minutes is None else MinuteOrHourTaker(minutes, hours)
        sums = _scanned_history(
            runs,
            start=start,
            bounds=bounds,
            now=now,
            taker=taker if hours.taken or (minutes is not None and minutes.taken) else None,
            read=read,
        )
    rows = RollupRead(scope, workspace_id, runs.key)
    if hours.taken:
        _add_rollup(sums, rows, hours.taken_ranges(), BUCKET, start=start, bounds=bounds, now=now)
    if minutes is not None and minutes.taken:
        _add_rollup(sums, rows, minutes.taken_ranges(), MINUTE, start=start, bounds=bounds, now=now, hours=hours)
    return _history_answer(bounds, sums)


@dataclass(frozen=True)
class RollupRead:
    """The workspace's rollup rows in ``scope``; ``key``: the filter body's (what their
    statements are kept under)."""

    scope: RollupScope
    workspace_id: int
    key: Any

    def rows(self, unit: dt.timedelta) -> QuerySet[Any]:
        """Its rows per hour, or its all-flows rows per minute."""
        if unit == MINUTE:
            minute_rows = rollup_minute_rows(self.scope, workspace_id=self.workspace_id)
            assert minute_rows is not None
            return minute_rows
        return rollup_rows(self.scope, workspace_id=self.workspace_id)


def _add_rollup(
    sums: HistorySums,
    rollup: RollupRead,
    taken: list[tuple[dt.datetime, dt.datetime]],
    unit: dt.timedelta,
    *,
    start: dt.datetime,
    bounds: list[tuple[dt.datetime, dt.datetime]],
    now: dt.datetime,
    hours: Taker | None = None,
) -> None:
    """Add the rollup rows of the ``taken`` units (ranges of them) to ``sums``,
    grouped per interval in the database (one row per interval and state, and hour if
    ``hours`` took some, and side of ``now``, not one per unit): a unit belongs to the
    interval holding its middle (see :data:`runs_app.rollup.plan.MIDDLE_MARGIN`); each
    is moved from the interval that took its hour, if another one did."""
    by_hour = hours is not None and bool(hours.taken)
    future = taken[-1][1] > now  # units after ``now``: their runs not started yet are not late
    anchor = bucket_of(taken[0][0])
    hour_number = unit_number("bucket", BUCKET, anchor, taken[0][0], taken[-1][1])

    def build() -> QuerySet[Any]:
        middle = EpochSeconds(F("bucket")) + Value(unit.total_seconds() / 2)
        keys = ["interval", "state_type", "state_name"]
        rows = (
            rollup.rows(unit)
            .filter(
                WithinRanges("bucket", ranges_given("taken", len(taken))),
                bucket__gte=Given(("taken", 0, 0)),
                bucket__lt=Given(("taken", len(taken) - 1, 1)),
            )
            .annotate(interval=Floor((middle - given_float("start_epoch")) / given_float("seconds")))
        )
        if by_hour:
            rows = rows.annotate(hour=hour_number)
            keys.append("hour")
        if future:
            rows = rows.annotate(future=Case(When(bucket__gte=NOW, then=Value(1)), default=Value(0)))
            keys.append("future")
        sums_of = ["count", "run_time", "running_since", "started_lateness", "unstarted", "unstarted_expected"]
        return (
            rows.values(*keys)
            .annotate(
                count=Sum("count_runs"),
                run_time=Sum("run_time_sum"),
                running_since=Sum("running_since_sum"),
                started_lateness=Sum("started_lateness_sum"),
                unstarted=Sum("unstarted_count"),
                unstarted_expected=Sum("unstarted_expected_sum"),
            )
            .order_by()
            .values_list(*keys, *sums_of)
        )

    shape = (unit.total_seconds(), len(taken), index_shape(hour_number) if by_hour else None, future)
    key = ("rollup", rollup.key, *shape)
    values = {
        "anchor": anchor,
        "start_epoch": start.timestamp(),
        "seconds": (bounds[0][1] - bounds[0][0]).total_seconds(),
        "now": now,
        **ranges_values("taken", taken),
    }
    now_epoch = now.timestamp()
    for row in shape_rows(key, build, values):
        interval, state_type, state_name = row[:3]
        count, unstarted = int(row[-6]), int(row[-2])
        run_time, running_since, started_lateness, unstarted_expected = map(float, (*row[-5:-2], row[-1]))
        is_future = future and row[-7]
        running = count if state_type == StateType.RUNNING else 0
        values_of_row = (
            count,
            run_time + running * now_epoch - running_since,
            started_lateness + (0.0 if is_future else unstarted * now_epoch - unstarted_expected),
        )
        taken_by = hours(anchor + int(row[3]) * BUCKET) if by_hour and hours is not None else None
        _move(sums, bounds, (state_type, state_name), values_of_row, int(interval), taken_by)


def flow_run_scatter(
    *,
    filters: Mapping[str, Any],
    sort: str | None,
    offset: int,
    limit: int,
    now: dt.datetime,
    workspace_id: int,
) -> list[dict[str, Any]]:
    """``POST /ui/flow_runs/history``: the matching runs, sorted, as the Flow runs page's
    scatter-plot points: when each started (or is expected to), its run time and lateness.

    Reads the few columns a point is made of, not whole runs: building a thousand model
    instances, JSON columns and all, was most of the cost of this answer.
    """
    body = {**filters, "sort": sort, "offset": offset, "limit": limit}
    runs = flow_runs_in_order(body=body, workspace_id=workspace_id)
    columns = runs.values_list(
        "id", "state_type", "state_timestamp", "expected_start_time", "start_time", "total_run_time"
    )
    return [
        {
            "id": run_id,
            "state_type": state_type,
            "timestamp": start or expected,
            "duration": estimated_run_time(total_run_time, state_type, state_timestamp, now),
            "lateness": estimated_lateness(expected, start, state_type, now),
        }
        for run_id, state_type, state_timestamp, expected, start, total_run_time in columns[offset : offset + limit]
    ]


DASHBOARD_BUCKETS = 20
FAILED_STATE_TYPES = frozenset({StateType.FAILED, StateType.CRASHED})


def dashboard_task_run_counts(
    *, filters: Mapping[str, Any], now: dt.datetime, workspace_id: int
) -> list[dict[str, int]]:
    """Finished task runs per 20 equal time buckets (completed vs. failed/crashed) between
    ``task_runs.start_time.after_`` (to the minute) and its ``before_`` or now (end of minute)."""
    task_runs = filters["task_runs"]
    window = task_runs["start_time"]
    start = window["after_"].replace(second=0, microsecond=0)
    end = (window.get("before_") or now).replace(second=59, microsecond=999999)
    width = (end - start).total_seconds() / DASHBOARD_BUCKETS
    terminal = {**task_runs, "state": {"type": {"any_": sorted(TERMINAL_STATE_TYPES)}}}
    runs = task_runs_matching(filters={**filters, "task_runs": terminal}, workspace_id=workspace_id)
    queue_condition = work_queue_condition(filters.get("work_pools"), filters.get("work_queues"), "flow_run__")
    if queue_condition is not None:
        runs = runs.filter(queue_condition)
    buckets = [{"completed": 0, "failed": 0} for _ in range(DASHBOARD_BUCKETS)]
    for started, state_type in runs.values_list("start_time", "state_type").iterator():
        index = math.floor((started - start).total_seconds() / width) if width > 0 else 0
        if 0 <= index < DASHBOARD_BUCKETS:
            buckets[index]["failed" if state_type in FAILED_STATE_TYPES else "completed"] += 1
    return buckets
