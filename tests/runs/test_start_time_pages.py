"""Pages sorted by start time (``START_TIME_DESC`` / ``_ASC``: a run's start, or its
expected start while it has not started) equal sorting every matching run, with and
without an expected-start window (issue #23).

On PostgreSQL such a page reads the runs not started and the started runs apart, each
from its own partial index, and merges them (``runs_app.selectors.runs``). The runs below
are placed where that could go wrong: scheduled ahead of the window (they sort first
newest-first, but the window leaves them out), exactly on both window edges, started
before or long after their expected start, started after the window's end, with start
times shared among started runs and with the expected start of a run not started, and a
run with neither time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.models import FlowRun
from runs_app.selectors.runs import flow_runs_matching
from tests.factories import FlowFactory, FlowRunFactory
from tests.helpers import ApiClient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 1, 12, 0, 7, tzinfo=dt.UTC)
DAY = {"after_": (NOW - dt.timedelta(days=1)).isoformat(), "before_": NOW.isoformat()}
WEEK = {"after_": (NOW - dt.timedelta(days=7)).isoformat(), "before_": NOW.isoformat()}
SORTS = {"START_TIME_DESC": True, "START_TIME_ASC": False}


@pytest.fixture
def runs() -> dict[str, Any]:
    """Two flows' runs around ``NOW``; the second flow's runs all have an expected start."""
    flow_a, flow_b = FlowFactory(), FlowFactory()
    minute = dt.timedelta(minutes=1)

    def run(flow: Any, expected: dt.datetime | None, start: dt.datetime | None, state: str) -> None:
        FlowRunFactory(flow=flow, expected_start_time=expected, start_time=start, state_type=state)

    for flow in (flow_a, flow_b):
        for hours in range(1, 40):  # scheduled ahead of every window, more than a page
            run(flow, NOW + dt.timedelta(hours=hours * 3), None, "SCHEDULED")
        for step in range(0, 8 * 24 * 60, 47):  # started through the week, a few minutes late
            expected = NOW - step * minute
            run(flow, expected, expected + (step % 5) * minute, "COMPLETED")
        burst = NOW - dt.timedelta(hours=5)
        for _ in range(4):  # a burst sharing one start, and a run not started expected then
            run(flow, burst - 2 * minute, burst, "FAILED")
        run(flow, burst, None, "PENDING")
        # On the window's edges, not started and started.
        for edge in (NOW, NOW - dt.timedelta(days=1), NOW - dt.timedelta(days=7)):
            run(flow, edge, None, "SCHEDULED")
            run(flow, edge, edge + 3 * minute, "RUNNING")
        run(flow, NOW - 10 * minute, NOW + 30 * minute, "RUNNING")  # started after the window's end
        run(flow, NOW - 20 * minute, NOW - dt.timedelta(days=3), "COMPLETED")  # started long before
        run(flow, NOW - dt.timedelta(days=2), NOW - 30 * minute, "COMPLETED")  # expected before, started in
        run(flow, NOW - dt.timedelta(days=9), None, "SCHEDULED")  # late, before every window
        run(flow, NOW - 3 * minute, None, "LATE")
    run(flow_a, None, None, "PENDING")
    return {"flow_a": flow_a, "flow_b": flow_b}


def _key(run: FlowRun) -> dt.datetime | None:
    return run.start_time or run.expected_start_time


def _sort_key(run: FlowRun) -> dt.datetime:
    """``_key`` of the runs the bodies compared here select: each has one time or both."""
    key = _key(run)
    assert key is not None, run
    return key


def _matching(body: dict[str, Any]) -> list[FlowRun]:
    """The runs ``body`` selects, read one by one."""
    window = (body.get("flow_runs") or {}).get("expected_start_time")
    flows = (body.get("flows") or {}).get("id", {}).get("any_")
    chosen = []
    for run in FlowRun.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID):
        if flows is not None and str(run.flow_id) not in flows:
            continue
        if window is not None:
            expected = run.expected_start_time
            after, before = dt.datetime.fromisoformat(window["after_"]), dt.datetime.fromisoformat(window["before_"])
            if expected is None or not after <= expected <= before:
                continue
        chosen.append(run)
    return chosen


def _check_page(api: ApiClient, body: dict[str, Any]) -> None:
    """The page's sort keys are those of sorting every matching run, and each row is a
    matching run shown once with its own key (runs sharing a key may come in any order)."""
    matching = {str(run.id): run for run in _matching(body)}
    ordered = sorted(matching.values(), key=_sort_key, reverse=SORTS[body["sort"]])
    offset, limit = body.get("offset", 0), body.get("limit", 200)
    with CaptureQueriesContext(connection) as captured:
        page = api.post("/flow_runs/filter", body).json()
    assert len(captured.captured_queries) == 1, body
    assert [_key(matching[row["id"]]) for row in page] == [_key(run) for run in ordered[offset : offset + limit]]
    assert len({row["id"] for row in page}) == len(page)
    for row in page:
        run = matching[row["id"]]
        assert (row["state_type"], row["expected_start_time"], row["start_time"]) == (
            run.state_type,
            run.expected_start_time and run.expected_start_time.isoformat(),
            run.start_time and run.start_time.isoformat(),
        )
    apart = connection.vendor == "postgresql"
    assert ("UNION ALL" in captured.captured_queries[0]["sql"]) == apart, body


def _bodies(flow_id: str) -> list[dict[str, Any]]:
    one_flow = {"flows": {"id": {"any_": [flow_id]}}}
    bodies: list[dict[str, Any]] = []
    for sort in SORTS:
        bodies += [
            {"flow_runs": {"expected_start_time": DAY}, "sort": sort, "limit": 44},  # the dashboard's list
            {"flow_runs": {"expected_start_time": WEEK}, "sort": sort},  # the Flow runs page
            {"flow_runs": {"expected_start_time": WEEK}, "sort": sort, "limit": 10, "offset": 30},
            {"flow_runs": {"expected_start_time": DAY}, "sort": sort, "limit": 7, "offset": 50},
            {**one_flow, "sort": sort, "limit": 200, "offset": 0},  # a flow's page
            {**one_flow, "sort": sort, "limit": 20, "offset": 35},
            {**one_flow, "flow_runs": {"expected_start_time": DAY}, "sort": sort, "limit": 44},
            {**one_flow, "flow_runs": {"expected_start_time": DAY}, "sort": sort, "limit": 200},
        ]
    return bodies


def test_start_time_pages_equal_sorting_every_matching_run(api: ApiClient, runs: dict[str, Any]) -> None:
    for body in _bodies(str(runs["flow_b"].id)):
        _check_page(api, body)


def test_the_run_without_times_sorts_where_the_database_sorts_a_missing_key(
    api: ApiClient, runs: dict[str, Any]
) -> None:
    """A run with neither time sorts as the database sorts a missing key (first newest
    first on PostgreSQL, last on SQLite), in the merged read as in one read."""
    missing_first = connection.vendor == "postgresql"
    for sort, descending in SORTS.items():
        page = api.post("/flow_runs/filter", {"sort": sort, "limit": 3}).json()
        first_is_missing = page[0]["start_time"] is None and page[0]["expected_start_time"] is None
        assert first_is_missing == (missing_first == descending), sort


def test_the_scatter_plot_equals_sorting_every_matching_run(api: ApiClient, runs: dict[str, Any]) -> None:
    """``/ui/flow_runs/history`` (the Flow runs page's points) reads its runs the same way."""
    for sort, descending in SORTS.items():
        for body in (
            {"flow_runs": {"expected_start_time": WEEK}},
            {"flows": {"id": {"any_": [str(runs["flow_b"].id)]}}},
        ):
            matching = {str(run.id): run for run in _matching(body)}
            ordered = sorted(matching.values(), key=_sort_key, reverse=descending)
            for limit, offset in ((1000, 0), (15, 40)):
                points = api.post("/ui/flow_runs/history", {**body, "sort": sort, "limit": limit, "offset": offset})
                expected = [_key(run) for run in ordered[offset : offset + limit]]
                assert [_key(matching[point["id"]]) for point in points.json()] == expected, (body, sort)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partial indexes read apart on PostgreSQL only")
def test_each_half_reads_its_partial_index(runs: dict[str, Any]) -> None:
    """The two reads are the conditions and orders the partial indexes are built for (a
    condition that did not match would silently lose the index)."""
    window = {"expected_start_time": {"after_": NOW - dt.timedelta(days=1), "before_": NOW}}
    matching = flow_runs_matching(filters={"flow_runs": window}, workspace_id=DEFAULT_WORKSPACE_ID)
    halves = {
        "ix_fr_ws_not_started": matching.filter(start_time__isnull=True).order_by("-expected_start_time"),
        "ix_fr_ws_started": matching.filter(start_time__isnull=False).order_by("-start_time"),
    }
    for index, half in halves.items():
        sql, params = half.values("id")[:44].query.sql_with_params()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert index in plan and "Index Only Scan" in plan, plan
