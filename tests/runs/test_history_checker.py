"""The soak/crash consistency checker (tests/stress/consistency.py) on a tiny run: clean
after a real lifecycle through the API, and it names each kind of damage."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runs_app.models import ConcurrencyLimit, FlowRun, FlowRunState, TaskRun
from tests.helpers import ApiClient
from tests.stress.consistency import history_problems

pytestmark = pytest.mark.django_db


def _lifecycle(api: ApiClient) -> tuple[dict[str, Any], dict[str, Any]]:
    flow = api.post("/flows/", {"name": "checker"}).json()
    run = api.post("/flow_runs/", {"flow_id": flow["id"], "state": {"type": "PENDING"}}).json()
    assert api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}}).json()["status"] == "ACCEPT"
    api.post("/concurrency_limits/", {"tag": "checker-tag", "concurrency_limit": 1})
    task = api.post(
        "/task_runs/",
        {
            "flow_run_id": run["id"],
            "task_key": "k",
            "dynamic_key": "0",
            "tags": ["checker-tag"],
            "state": {"type": "PENDING"},
        },
    ).json()
    assert api.post(f"/task_runs/{task['id']}/set_state", {"state": {"type": "RUNNING"}}).json()["status"] == "ACCEPT"
    return run, task


def test_a_clean_lifecycle_has_no_problems(api: ApiClient) -> None:
    run, task = _lifecycle(api)
    api.post(f"/task_runs/{task['id']}/set_state", {"state": {"type": "COMPLETED"}})
    api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "COMPLETED"}})
    checked, problems = history_problems()
    assert (checked, problems) == (2, [])
    assert ConcurrencyLimit.objects.get().active_slots == []


def test_the_checker_names_each_kind_of_damage(api: ApiClient) -> None:
    run, task = _lifecycle(api)
    # A slot still held by a task run that finished behind the engine's back.
    TaskRun.objects.filter(pk=task["id"]).update(state_type="COMPLETED")
    # A run row that disagrees with its last state row and its RUNNING count.
    FlowRun.objects.filter(pk=run["id"]).update(state_name="Late", run_count=3)
    # A state row written after another but stamped before it.
    first = FlowRunState.objects.filter(flow_run_id=run["id"]).order_by("created").first()
    assert first is not None
    FlowRunState.objects.filter(pk=first.pk).update(timestamp=first.timestamp + dt.timedelta(days=1))
    _, problems = history_problems()
    text = "\n".join(problems)
    assert f"flow run {run['id']}: state rows out of time order" in text
    assert f"flow run {run['id']}: run_count 3 but 1 RUNNING rows" in text
    assert f"flow run {run['id']}: row says RUNNING/Late, last state row is RUNNING/Running" in text
    assert f"task run {task['id']}: row says COMPLETED/Running" in text
    assert f"limit 'checker-tag': slot held by task run {task['id']} (COMPLETED)" in text
