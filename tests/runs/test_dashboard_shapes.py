"""What the stock dashboard sends, on data shaped like a busy server's (``orion_seed
--production``): answers equal reading the runs one by one.

Runs in bursts share a start time on the hour (a few a fraction of a second off it), so
history windows on the hour, off it and within a second of it cut those bursts at every
bound; the nested filter searches flow names that many flows share.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import Any

import pytest
from django.core.management import call_command

from flows_app.models import Flow
from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.models import FlowRun, TaskRun
from runs_app.selectors.history import flow_run_history, run_history
from runs_app.selectors.runs import flow_runs_matching
from tests.runs.rollup_helpers import assert_same

ANCHOR = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
NO_FILTERS: dict[str, Any] = {"flows": None, "flow_runs": None, "task_runs": None, "deployments": None}


@pytest.fixture
def production() -> None:
    call_command(
        "orion_seed",
        runs=3_000,
        flows=40,
        production=True,
        anchor=ANCHOR.isoformat(),
        no_vacuum=True,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )


def _windows(now: dt.datetime) -> list[dict[str, Any]]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = dt.timedelta(days=1)
    return [
        # The dashboard's: 30 daily intervals from "now - 30 days", now to the second.
        {"start": now - 30 * day, "end": now, "interval": day},
        # On the hour, a second and a fraction before and after it.
        {"start": hour - 30 * day, "end": hour, "interval": day},
        {"start": hour - 30 * day - dt.timedelta(seconds=1), "end": now, "interval": day},
        {"start": hour - 30 * day + dt.timedelta(seconds=0.5), "end": now, "interval": day},
        {"start": hour - 30 * day + dt.timedelta(minutes=30, seconds=-0.3), "end": now, "interval": day},
        # The task-run card's 72-minute intervals over a day, and hours cut at :29:59.
        {"start": now - day, "end": now, "interval": dt.timedelta(seconds=4320)},
        {"start": hour - 3 * day + dt.timedelta(minutes=29, seconds=59), "end": now, "interval": dt.timedelta(hours=5)},
    ]


@pytest.mark.django_db(transaction=True)
def test_production_shape_has_bursts_late_runs_and_rare_tags(production: None) -> None:
    runs = FlowRun.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID)
    starts = Counter(runs.values_list("expected_start_time", flat=True))
    on_the_hour = [m for m in starts if m is not None and m.minute in (0, 30) and m.second == 0]
    assert max(starts.values()) >= 5 and len(on_the_hour) >= 100  # bursts share one start time
    assert runs.filter(expected_start_time__gt=ANCHOR, state_type="SCHEDULED").count() > 100  # ahead
    assert runs.filter(state_name="Late").count() > 50
    assert runs.filter(state_type="RUNNING", start_time__lt=ANCHOR - dt.timedelta(days=3)).exists()  # for days
    tags = Counter(tag for row in runs.values_list("tags", flat=True) for tag in row)
    assert 0 < tags["critical"] < tags["pii"] < tags["team-a"] < tags["nightly"] < len(starts) * 2
    names = list(Flow.objects.values_list("name", flat=True))
    assert sum("orders" in name for name in names) >= 3  # a search matches many flows


@pytest.mark.django_db(transaction=True)
def test_flow_runs_page_nested_filter_and_scatter_plot_through_http(api, production: None, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    after = ANCHOR - dt.timedelta(days=7)
    body = {
        "flows": {"name": {"like_": "orders"}},
        "flow_runs": {
            "state": {"type": {"any_": ["FAILED", "CRASHED"]}},
            "tags": {"all_": ["prod"]},
            "expected_start_time": {"after_": after.isoformat()},
        },
        "sort": "EXPECTED_START_TIME_DESC",
        "limit": 50,
    }
    answer = api.post("/flow_runs/filter", body).json()
    flows = set(Flow.objects.filter(name__contains="orders").values_list("id", flat=True))
    expected = [
        run
        for run in FlowRun.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID).order_by("-expected_start_time", "id")
        if run.flow_id in flows
        and run.state_type in ("FAILED", "CRASHED")
        and "prod" in run.tags
        and run.expected_start_time is not None
        and run.expected_start_time >= after
    ]
    # Runs of a burst share their start: the order among them is the server's choice.
    assert answer and [dt.datetime.fromisoformat(row["expected_start_time"]) for row in answer] == [
        run.expected_start_time for run in expected[:50]
    ]
    assert {row["id"] for row in answer} <= {str(run.id) for run in expected}
    assert api.post("/flow_runs/count", body).json() == len(expected)
    _check_scatter_plot(api, monkeypatch)


def _expected_start(run: FlowRun) -> dt.datetime:
    assert run.expected_start_time is not None  # every seeded run has one
    return run.expected_start_time


def _check_scatter_plot(api: Any, monkeypatch: Any) -> None:
    """``/ui/flow_runs/history`` (the Flow runs page) reads a few columns, not whole runs:
    its points equal those the runs themselves give, running and late runs included."""
    now = ANCHOR + dt.timedelta(minutes=17, seconds=43, microseconds=250_000)
    monkeypatch.setattr("runs_app.api.flow_runs.timezone.now", lambda: now)
    week = {"after_": (now - dt.timedelta(days=7)).isoformat(), "before_": now.isoformat()}
    runs = FlowRun.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID, expected_start_time__isnull=False)
    shapes: tuple[tuple[dict[str, Any], set[str] | None], ...] = (
        ({"flow_runs": {"expected_start_time": week}, "sort": "START_TIME_DESC"}, None),
        ({"flow_runs": {"expected_start_time": week, "state": {"type": {"any_": ["RUNNING"]}}}}, {"RUNNING"}),
        (
            {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "PENDING"]}}}, "limit": 1000},
            {"SCHEDULED", "PENDING"},
        ),
    )
    for body, state_types in shapes:
        answer = api.post("/ui/flow_runs/history", body).json()
        after = week["after_"] if "expected_start_time" in body["flow_runs"] else None
        expected = {
            str(run.id): {
                "id": str(run.id),
                "state_type": run.state_type,
                "timestamp": (run.start_time or _expected_start(run)).isoformat(),
                "duration": run.estimated_run_time_at(now),
                "lateness": run.lateness_at(now),
            }
            for run in runs
            if (state_types is None or run.state_type in state_types)
            and (after is None or dt.datetime.fromisoformat(after) <= _expected_start(run) <= now)
        }
        assert 0 < len(answer) == min(len(expected), 1000)
        assert {row["id"]: row for row in answer} == {row["id"]: expected[row["id"]] for row in answer}
        key = "timestamp" if body.get("sort") == "START_TIME_DESC" else None
        if key:
            assert [row[key] for row in answer] == sorted((row[key] for row in answer), reverse=True)
    rows = api.post("/ui/flow_runs/history", {"flow_runs": {"expected_start_time": week}, "limit": 5, "offset": 3})
    full = api.post("/ui/flow_runs/history", {"flow_runs": {"expected_start_time": week}, "limit": 8}).json()
    assert [row["timestamp"] for row in rows.json()] == [row["timestamp"] for row in full[3:8]]


def _odd_windows(now: dt.datetime) -> list[dict[str, Any]]:
    """Intervals that do not divide an hour, windows wholly ahead of ``now`` or before every
    run (empty), and one that ends ahead of it."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [
        {"start": now - dt.timedelta(days=5), "end": now, "interval": dt.timedelta(hours=2, minutes=13, seconds=7)},
        {"start": now - dt.timedelta(days=9), "end": now, "interval": dt.timedelta(minutes=97)},
        {"start": now - dt.timedelta(hours=20), "end": now, "interval": dt.timedelta(minutes=7, seconds=30)},
        {
            "start": now + dt.timedelta(hours=1, seconds=3),
            "end": now + dt.timedelta(days=3),
            "interval": dt.timedelta(hours=5),
        },
        {
            "start": hour - dt.timedelta(days=400),
            "end": hour - dt.timedelta(days=370),
            "interval": dt.timedelta(days=1),
        },
        {
            "start": now - dt.timedelta(days=2, seconds=1),
            "end": now + dt.timedelta(days=2),
            "interval": dt.timedelta(hours=3),
        },
    ]


@pytest.mark.django_db(transaction=True)
def test_history_off_on_and_near_the_hour_equals_reading_every_run(api, production: None, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """History equals reading every run for windows on, off and near the hour, for odd,
    future and empty windows, before and after runs in the windows move on (scheduled
    runs start, running ones finish or fail, some are deleted), and as ``now`` passes
    into the next hour."""
    now = ANCHOR + dt.timedelta(minutes=17, seconds=43, microseconds=250_000)
    # The server stamps the states it writes with its clock: a few minutes before ``now``.
    monkeypatch.setattr("django.utils.timezone.now", lambda: now - dt.timedelta(minutes=4, seconds=11))
    failed = {**NO_FILTERS, "flow_runs": {"state": {"type": {"any_": ["FAILED", "CRASHED", "RUNNING"]}}}}

    def check(at: dt.datetime, windows: list[dict[str, Any]]) -> None:
        for window in windows:
            for filters in (NO_FILTERS, failed):
                assert_same(
                    flow_run_history(now=at, filters=filters, workspace_id=DEFAULT_WORKSPACE_ID, **window),
                    run_history(
                        flow_runs_matching(filters=filters, workspace_id=DEFAULT_WORKSPACE_ID), now=at, **window
                    ),
                )

    check(now, _windows(now) + _odd_windows(now))
    runs = FlowRun.objects.filter(
        workspace_id=DEFAULT_WORKSPACE_ID, expected_start_time__gte=now - dt.timedelta(days=5)
    )
    moves = [
        *[(run, ["PENDING", "RUNNING"]) for run in runs.filter(state_type="SCHEDULED")[:15]],
        *[(run, ["COMPLETED"]) for run in runs.filter(state_type="RUNNING")[:10]],
        *[(run, ["FAILED"]) for run in runs.filter(state_type="COMPLETED")[:10]],
    ]
    assert len(moves) >= 25
    for run, states in moves:
        for state_type in states:
            answer = api.post(f"/flow_runs/{run.id}/set_state", {"state": {"type": state_type}, "force": True}).json()
            assert answer["status"] == "ACCEPT", answer
    for run in runs.filter(state_type="CANCELLED")[:5]:
        assert api.delete(f"/flow_runs/{run.id}").status_code == 204
    after_the_moves = [*_windows(now)[:1], *_windows(now)[3:5], *_odd_windows(now)]
    check(now, after_the_moves)
    check(now + dt.timedelta(hours=1), after_the_moves)


@pytest.mark.django_db(transaction=True)
def test_task_run_cards_equal_reading_every_task_run(api, production: None) -> None:  # type: ignore[no-untyped-def]
    """The dashboard's and a flow's task-run cards (``/task_runs/count``: a day's window on
    ``start_time``, state types, no sub-flow runs; each compiled once per shape) equal
    reading the task runs one by one, for windows off, on and within a second of the
    hour, and for a run's task runs."""
    tasks = list(TaskRun.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID).select_related("flow_run"))
    # The seed leaves most task runs unstarted: start them over three days before
    # ``ANCHOR``, every fifth on the hour and a few a fraction of a second off it.
    for index, task in enumerate(tasks):
        moment = ANCHOR - dt.timedelta(seconds=173 * index)
        if index % 5 == 0:
            moment = moment.replace(minute=0, second=0, microsecond=0)
        elif index % 5 == 1 and index % 3 == 0:
            moment = moment.replace(minute=0, second=0, microsecond=0) + dt.timedelta(seconds=0.4 - index % 2)
        task.start_time = moment if index % 11 else None
    TaskRun.objects.bulk_update(tasks, ["start_time"], batch_size=500)
    # Some task runs stand for sub-flow runs, so ``subflow_runs: {exists_: false}`` leaves some out.
    parents = [task for task in tasks if task.start_time is not None][:: max(1, len(tasks) // 40)]
    for task, child in zip(
        parents, FlowRun.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID)[: len(parents)], strict=True
    ):
        child.parent_task_run_id = task.id
        child.save(update_fields=["parent_task_run_id"])
    subflow_parents = {task.id for task in parents}
    assert len(subflow_parents) >= 10
    now = ANCHOR - dt.timedelta(hours=20, minutes=42, seconds=17)
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = dt.timedelta(days=1)
    windows = [
        (now - day, now),
        (hour - day, hour),
        (hour - day - dt.timedelta(seconds=1), hour + dt.timedelta(seconds=1)),
        (hour - day + dt.timedelta(seconds=0.5), now),
        (None, now),
        (now - 3 * day, None),
    ]
    flow_id = Counter(
        task.flow_run.flow_id
        for task in tasks
        if task.flow_run is not None and task.start_time is not None and now - day <= task.start_time <= now
    ).most_common(1)[0][0]
    groups = (["COMPLETED", "FAILED", "CRASHED", "RUNNING"], ["COMPLETED"], ["FAILED", "CRASHED"], ["RUNNING"])
    sizes = []
    for after, before in windows:
        window = {
            **({"after_": after.isoformat()} if after else {}),
            **({"before_": before.isoformat()} if before else {}),
        }
        for group in groups:
            for flows in (None, {"id": {"any_": [str(flow_id)]}}):
                body: dict[str, Any] = {
                    "task_runs": {
                        "state": {"type": {"any_": group}},
                        "start_time": window,
                        "subflow_runs": {"exists_": False},
                    }
                }
                if flows:
                    body["flows"] = flows
                expected = [
                    task
                    for task in tasks
                    if task.state_type in group
                    and task.id not in subflow_parents
                    and task.start_time is not None
                    and (after is None or task.start_time >= after)
                    and (before is None or task.start_time <= before)
                    and (flows is None or (task.flow_run is not None and task.flow_run.flow_id == flow_id))
                ]
                assert api.post("/task_runs/count", body).json() == len(expected), (after, before, group, flows)
                sizes.append(len(expected))
    assert max(sizes) > 100 and sum(size == 0 for size in sizes) < len(sizes) // 3, sizes
    run_id = tasks[0].flow_run_id
    of_run = [task for task in tasks if task.flow_run_id == run_id]
    body = {"flow_runs": {"id": {"any_": [str(run_id)]}}, "task_runs": {"subflow_runs": {"exists_": False}}}
    assert api.post("/task_runs/count", body).json() == len([t for t in of_run if t.id not in subflow_parents])
    assert api.post("/task_runs/count", {"flow_runs": {"id": {"any_": [str(run_id)]}}}).json() == len(of_run)
