"""Runs and comparisons shared by the history-rollup tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from runs_app.models import FlowRun, FlowRunHistoryBucket
from runs_app.rollup.writes import ALL_FLOWS, ALL_HOURS, SUM_FIELDS
from runs_app.selectors.history import run_history
from runs_app.selectors.runs import flow_runs_matching
from runs_app.states import StateType
from tests.factories import FlowFactory
from tests.helpers import ApiClient, scrape

TABLE = FlowRunHistoryBucket._meta.db_table


def assert_same(rollup: list[dict[str, Any]], scan: list[dict[str, Any]]) -> None:
    """Same intervals, states and counts; sums equal up to float rounding (epoch seconds
    summed in another order)."""
    assert [(i["interval_start"], i["interval_end"]) for i in rollup] == [
        (i["interval_start"], i["interval_end"]) for i in scan
    ]
    for got, want in zip(rollup, scan, strict=True):
        assert [(s["state_type"], s["state_name"], s["count_runs"]) for s in got["states"]] == [
            (s["state_type"], s["state_name"], s["count_runs"]) for s in want["states"]
        ], got["interval_start"]
        for a, b in zip(got["states"], want["states"], strict=True):
            assert a["sum_estimated_run_time"] == pytest.approx(b["sum_estimated_run_time"], rel=1e-7, abs=1e-2)
            assert a["sum_estimated_lateness"] == pytest.approx(b["sum_estimated_lateness"], rel=1e-7, abs=1e-2)


def make_runs(api: Any) -> list[str]:
    """Runs of two flows through the API: scheduled in the past and the future, running,
    finished, failed, late; expected starts spread over three days."""
    flows = [FlowFactory(), FlowFactory()]
    now = timezone.now()
    ids = []
    plans = [
        ("SCHEDULED",), ("SCHEDULED", "PENDING"), ("SCHEDULED", "PENDING", "RUNNING"),
        ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED"), ("SCHEDULED", "RUNNING", "FAILED"),
        ("SCHEDULED", "CANCELLED"),
    ]  # fmt: skip
    for index in range(36):
        scheduled = now - dt.timedelta(hours=70) + dt.timedelta(minutes=137 * index)
        body: dict[str, Any] = {
            "flow_id": str(flows[index % 2].id),
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": scheduled.isoformat()}},
        }
        run = api.post("/flow_runs/", body).json()
        ids.append(run["id"])
        for state_type in plans[index % len(plans)][1:]:
            forced = {"state": {"type": state_type}, "force": True}  # future runs would be told to WAIT
            answer = api.post(f"/flow_runs/{run['id']}/set_state", forced).json()
            assert answer["status"] == "ACCEPT", answer
    return ids


NO_FILTERS: dict[str, Any] = {"flows": None, "flow_runs": None, "task_runs": None, "deployments": None}


def scanned(now: dt.datetime, filters: dict[str, Any], **window: Any) -> list[dict[str, Any]]:
    return run_history(flow_runs_matching(filters=filters, workspace_id=DEFAULT_WORKSPACE_ID), now=now, **window)


def windows(now: dt.datetime) -> list[dict[str, Any]]:
    """Daily intervals not on hour bounds (as the UI asks), hourly ones on bounds, short
    ones inside an hour, and a window reaching into the future."""
    odd = now - dt.timedelta(days=3, minutes=17, seconds=5)
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [
        {"start": odd, "end": now, "interval": dt.timedelta(days=1)},
        {
            "start": hour - dt.timedelta(hours=30),
            "end": hour + dt.timedelta(hours=3),
            "interval": dt.timedelta(hours=1),
        },
        {"start": now - dt.timedelta(hours=5), "end": now + dt.timedelta(hours=2), "interval": dt.timedelta(minutes=7)},
        {"start": odd, "end": now + dt.timedelta(days=2), "interval": dt.timedelta(hours=5, minutes=3)},
        # Bounds at an hour's middle and within a second of it (the hour is read from
        # the runs), hourly and 90-minute intervals cutting every hour, and a bound in
        # each minute of the hour across the windows.
        {"start": hour - dt.timedelta(hours=60, minutes=30), "end": now, "interval": dt.timedelta(hours=7)},
        {
            "start": hour - dt.timedelta(hours=61, minutes=29, seconds=59.6),
            "end": now,
            "interval": dt.timedelta(hours=3),
        },
        {
            "start": hour - dt.timedelta(hours=62, minutes=30, seconds=-0.4),
            "end": now,
            "interval": dt.timedelta(hours=4),
        },
        {"start": odd - dt.timedelta(hours=40), "end": now, "interval": dt.timedelta(hours=1)},
        {"start": odd - dt.timedelta(hours=41, minutes=44), "end": now, "interval": dt.timedelta(minutes=90)},
        *(
            {
                "start": hour - dt.timedelta(hours=71, minutes=minute),
                "end": hour - dt.timedelta(hours=3),
                "interval": dt.timedelta(hours=2, minutes=13),
            }
            for minute in range(0, 60, 7)
        ),
    ]


def sums(workspace_id: int, flow_id: Any) -> dict[tuple[str, str], tuple[float, ...]]:
    rows = (
        FlowRunHistoryBucket.objects.filter(workspace_id=workspace_id, flow_id=flow_id)
        .values_list("state_type", "state_name")
        .annotate(*[Sum(name) for name in SUM_FIELDS])
        .order_by()
    )
    return {
        (state_type, state_name): tuple(round(value, 3) for value in values)
        for state_type, state_name, *values in rows
        if values[0]
    }


def assert_counts_match(client: Client, workspace: str = "default") -> dict[Any, float]:
    """Every flow-run gauge of ``workspace`` equals counting its runs, and its all-hours
    rows equal the sums of its all-flows rows."""
    workspace_id = Workspace.objects.get(slug=workspace).id
    runs = FlowRun.objects.filter(workspace_id=workspace_id)
    samples = scrape(client)
    for state_type in StateType.values:
        key = ("orion_flow_runs", (("state_type", state_type), ("workspace", workspace)))
        assert samples[key] == runs.filter(state_type=state_type).count(), state_type
    late = runs.filter(state_type="SCHEDULED", state_name="Late").count()
    assert samples[("orion_late_flow_runs", (("workspace", workspace),))] == late
    assert sums(workspace_id, ALL_HOURS) == sums(workspace_id, ALL_FLOWS)
    return samples


def history(api: ApiClient, body: dict[str, Any], now: dt.datetime, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The route's answer at a fixed ``now`` (lateness and run time depend on it), and
    whether it read the rollup."""
    with monkeypatch.context() as patch, CaptureQueriesContext(connection) as queries:
        patch.setattr(timezone, "now", lambda: now)
        response = api.post("/flow_runs/history", body)
    assert response.status_code == 200, response.content
    return response.json(), any(TABLE in query["sql"] for query in queries.captured_queries)


def assert_rollup_equals_scan(api: ApiClient, monkeypatch: pytest.MonkeyPatch, flow_ids: list[str]) -> int:
    """Compare both paths for several windows, unfiltered and by flow; the runs counted."""
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    windows = [
        (now - dt.timedelta(days=3, minutes=17), now, 86_400),
        (hour - dt.timedelta(hours=62), hour + dt.timedelta(hours=4), 3_600),
        (now - dt.timedelta(hours=61, seconds=5), now + dt.timedelta(hours=20), 5 * 3_600 + 180),
    ]
    total = 0
    for start, end, seconds in windows:
        window = {"history_start": start.isoformat(), "history_end": end.isoformat()}
        window["history_interval_seconds"] = seconds  # type: ignore[assignment]
        for flows in (None, {"id": {"any_": flow_ids}}):
            rollup, used_rollup = history(api, {**window, "flows": flows}, now, monkeypatch)
            # Every run matches this flow-run filter, and the rollup has no column for it.
            everything = {"flow_runs": {"operator": "or_", "id": {"not_any_": [str(uuid.uuid4())]}}}
            scan, used_scan_rollup = history(api, {**window, "flows": flows, **everything}, now, monkeypatch)
            assert used_rollup and not used_scan_rollup
            assert_same(rollup, scan)
            total = max(total, sum(s["count_runs"] for interval in scan for s in interval["states"]))
    return total
