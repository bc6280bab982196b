"""The history rollup's all-flows rows per minute: of an hour an interval bound cuts, the
whole minutes come from them and only a part of the cut minute from the runs, and the
answer equals reading every run, for bounds on a minute, a fraction of a second off it,
at its middle and within a second of it, in a burst minute and beside it."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.models import FlowRunHistoryBucket
from runs_app.rollup.plan import Taker, split_at_bounds
from runs_app.rollup.writes import ALL_FLOWS_BY_MINUTE, MINUTE, bucket_of
from runs_app.selectors.history import _interval_bounds, flow_run_history
from tests.factories import FlowFactory
from tests.runs.rollup_helpers import NO_FILTERS, assert_same, scanned

# Expected starts around a cut minute: a burst at its start, a fraction of a second
# around it, around its middle, at its end and in the next minute.
OFFSETS = (0.0, 0.0, 0.0, -0.1, 0.2, 10.0, 29.4, 30.0, 30.7, 45.0, 59.9, 60.0, 61.5)
STATES = (("PENDING", "RUNNING"), ("PENDING", "RUNNING", "COMPLETED"), ("RUNNING", "FAILED"), ("CANCELLED",), ())


def _minutes(now: dt.datetime) -> list[dt.datetime]:
    """Two cut minutes a day, four days back and one ahead: on the hour (a burst) and at
    :17; the last two are the oldest."""
    hour = bucket_of(now) - dt.timedelta(hours=1)
    days = (-1, 0, 1, 2, 3)
    return [base - dt.timedelta(days=day) for day in days for base in (hour, hour - dt.timedelta(minutes=43))]


def _make_runs(api: Any, now: dt.datetime) -> None:
    flows = [FlowFactory(), FlowFactory()]
    position = 0
    for minute in _minutes(now):
        for offset in OFFSETS:
            scheduled = minute + dt.timedelta(seconds=offset)
            body = {
                "flow_id": str(flows[position % 2].id),
                "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": scheduled.isoformat()}},
            }
            run = api.post("/flow_runs/", body).json()
            for state_type in STATES[position % len(STATES)]:
                answer = api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": state_type}, "force": True})
                assert answer.json()["status"] == "ACCEPT"
            position += 1


def _windows(now: dt.datetime) -> list[dict[str, Any]]:
    """Daily intervals whose bounds fall at each offset into the cut minutes (and a
    5-hour interval, whose bounds move across the minutes)."""
    windows = []
    for minute in _minutes(now)[-2:]:
        # Offsets in OFFSETS put bounds exactly on runs' expected starts.
        for offset in (0.0, 0.1, 0.9, 10.5, 28.9, 29.5, 30.0, 30.5, 31.2, 59.95, 60.0, -0.05):
            start = minute + dt.timedelta(seconds=offset)
            windows.append({"start": start, "end": now, "interval": dt.timedelta(days=1)})
    windows.append(
        {"start": _minutes(now)[-1] + dt.timedelta(seconds=20), "end": now, "interval": dt.timedelta(hours=5)}
    )
    return windows


@pytest.mark.django_db
def test_history_with_minute_rows_equals_reading_every_run(api) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    _make_runs(api, now)
    flow_id = api.post("/flow_runs/filter", {"limit": 1}).json()[0]["flow_id"]
    states = {"flow_runs": {"state": {"type": {"any_": ["RUNNING", "SCHEDULED", "FAILED"]}}}}
    for window in _windows(now):
        for filters in (NO_FILTERS, {**NO_FILTERS, **states}, {**NO_FILTERS, "flows": {"id": {"any_": [flow_id]}}}):
            assert_same(
                flow_run_history(now=now, filters=filters, workspace_id=DEFAULT_WORKSPACE_ID, **window),
                scanned(now, filters, **window),
            )
    # After runs move on and some go, and once ``now`` is in the next minute and hour.
    for run in api.post("/flow_runs/filter", {"limit": 30}).json()[::3]:
        api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "COMPLETED"}, "force": True})
    for run in api.post("/flow_runs/filter", {"limit": 30, "offset": 30}).json()[::4]:
        assert api.delete(f"/flow_runs/{run['id']}").status_code == 204
    for later in (now, now + dt.timedelta(seconds=50), now + dt.timedelta(minutes=61)):
        for window in _windows(now)[::3]:
            assert_same(
                flow_run_history(now=later, filters=NO_FILTERS, workspace_id=DEFAULT_WORKSPACE_ID, **window),
                scanned(later, NO_FILTERS, **window),
            )


def test_a_30_day_history_reads_at_most_a_minute_of_runs_per_bound() -> None:
    now = dt.datetime(2026, 12, 7, 18, 21, 37, 412_000, tzinfo=dt.UTC)
    for start in (now - dt.timedelta(days=30), now.replace(minute=0, second=20) - dt.timedelta(days=30)):
        bounds = _interval_bounds(start, start + dt.timedelta(days=30), dt.timedelta(days=1))
        hours = Taker.of(dt.timedelta(hours=1), [(lo, hi, i) for i, (lo, hi) in enumerate(bounds)], now)
        minutes = Taker.of(MINUTE, split_at_bounds(hours.read, bounds), now)
        read = sum((upper - lower for lower, upper in minutes.read), dt.timedelta())
        assert len(bounds) == 30 and read <= (len(bounds) + 1) * MINUTE
        # At :21:37 the hours' parts read were 21 minutes each; at :00:20 they were 20 s.
        assert sum((upper - lower for lower, upper in hours.read), dt.timedelta()) >= (20 if start.minute else 1) * read


@pytest.mark.django_db
def test_the_migration_sums_the_minute_rows_the_writes_keep(api) -> None:  # type: ignore[no-untyped-def]
    from importlib import import_module

    _make_runs(api, timezone.now())
    fields = ("workspace_id", "bucket", "state_type", "state_name", "count_runs", "unstarted_count")
    minute_rows = FlowRunHistoryBucket.objects.filter(flow_id=ALL_FLOWS_BY_MINUTE, count_runs__gt=0)
    kept = set(minute_rows.values_list(*fields))
    assert sum(row[4] for row in kept) == len(_minutes(timezone.now())) * len(OFFSETS)
    migration = import_module("runs_app.migrations.0017_scale10m_history_minutes")
    migration.minute_rows(apps, SimpleNamespace(connection=connection))
    assert set(minute_rows.values_list(*fields)) == kept


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fraction", "interval"),
    [
        (0.834460, dt.timedelta(hours=1)),
        (0.000001, dt.timedelta(hours=1)),
        (0.999999, dt.timedelta(hours=1)),
        (0.5, dt.timedelta(hours=1)),
        (0.123457, dt.timedelta(hours=1)),
        # A window of 120 years: past what float seconds keep to the microsecond.
        (0.123457, dt.timedelta(days=365 * 40)),
    ],
)
def test_a_run_exactly_on_a_bound_is_counted_once_in_the_later_interval(api, fraction, interval) -> None:  # type: ignore[no-untyped-def]
    """A run scheduled exactly on an interval bound, in an hour the earlier interval
    takes from the rollup: reading the runs of the later interval's part of that hour
    must place the run there, not count it again in the earlier one (the recorded
    example #14 once counted such a run twice on SQLite)."""
    flow = api.post("/flows/", {"name": "on-a-bound"}).json()
    start = bucket_of(timezone.now()) + dt.timedelta(minutes=48, seconds=31 + fraction)
    bound = start + 2 * interval
    api.post(
        "/flow_runs/",
        {"flow_id": flow["id"], "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": bound.isoformat()}}},
    )
    body = {
        "history_start": start.isoformat(),
        "history_end": (bound + interval).isoformat(),
        "history_interval_seconds": interval.total_seconds(),
    }
    for filters in ({}, {"flows": {"id": {"any_": [flow["id"]]}}}):
        counts = [
            sum(state["count_runs"] for state in interval["states"])
            for interval in api.post("/flow_runs/history", {**body, **filters}).json()
        ]
        assert counts == [0, 0, 1]
