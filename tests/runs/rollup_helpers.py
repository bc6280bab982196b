"""Runs and comparisons shared by the history-rollup tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tests.factories import FlowFactory


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
