"""Stuck runs: the liveness service crashes silent RUNNING runs and cancels CANCELLING runs
nothing will finish, and never touches a run that still writes states or logs."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from flows_app.models import Deployment
from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.background.liveness import liveness_service, stuck_flow_runs_find
from runs_app.models import ConcurrencyLimit, FlowRun, FlowRunState, TaskRun
from tests.factories import FlowFactory
from tests.helpers import ApiClient

HOUR_AGO = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)


def deployed_run(
    api: ApiClient, state_type: str, *, silence: int | None = 600, infrastructure_pid: str | None = None
) -> dict[str, Any]:
    """A run of a deployment whose silence is ``silence`` seconds, last heard of an hour ago."""
    flow = FlowFactory()
    deployment = Deployment.objects.create(
        name="d", flow=flow, liveness_silence_seconds=silence, workspace_id=DEFAULT_WORKSPACE_ID
    )
    body = {"flow_id": str(flow.id), "deployment_id": str(deployment.id), "state": {"type": state_type}}
    run = api.post("/flow_runs/", body).json()
    if infrastructure_pid is not None:
        assert api.patch(f"/flow_runs/{run['id']}", {"infrastructure_pid": infrastructure_pid}).status_code == 204
    go_quiet(run["id"])
    return run  # type: ignore[no-any-return]


def go_quiet(run_id: str) -> None:
    """Age a run's last signs of life (fixture set-up: the run's own rows, not a transition)."""
    FlowRun.objects.filter(pk=run_id).update(updated=HOUR_AGO, state_timestamp=HOUR_AGO)
    FlowRunState.objects.filter(flow_run_id=run_id).update(timestamp=HOUR_AGO)
    TaskRun.objects.filter(flow_run_id=run_id).update(updated=HOUR_AGO)


def state_of(run_id: str) -> tuple[str, str | None]:
    run = FlowRun.objects.select_related("state").get(pk=run_id)
    assert run.state is not None
    return run.state.type, run.state.message


def test_silent_running_run_is_crashed_with_its_tasks_and_slots(api: ApiClient) -> None:
    api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 2})
    run = deployed_run(api, "RUNNING")
    task = api.post(
        "/task_runs/",
        {"flow_run_id": run["id"], "task_key": "t", "dynamic_key": "0", "tags": ["db"], "state": {"type": "PENDING"}},
    ).json()
    assert api.post(f"/task_runs/{task['id']}/set_state", {"state": {"type": "RUNNING"}}).json()["status"] == "ACCEPT"
    assert ConcurrencyLimit.objects.get(tag="db").active_slots == [task["id"]]
    go_quiet(run["id"])

    assert liveness_service() == 1

    state_type, message = state_of(run["id"])
    assert state_type == "CRASHED"
    assert message is not None and "No state, log or task-run change for 600 s" in message
    assert TaskRun.objects.get(pk=task["id"]).state_type == "CRASHED"
    assert ConcurrencyLimit.objects.get(tag="db").active_slots == []
    assert liveness_service() == 0


def test_run_that_still_logs_or_moves_tasks_is_never_crashed(api: ApiClient) -> None:
    logging_run = deployed_run(api, "RUNNING")
    line = {"name": "x", "level": 20, "message": "alive", "flow_run_id": logging_run["id"]}
    assert api.post("/logs/", [{**line, "timestamp": dt.datetime.now(dt.UTC).isoformat()}]).status_code == 201
    tasking_run = deployed_run(api, "RUNNING")
    task = {"flow_run_id": tasking_run["id"], "task_key": "t", "dynamic_key": "0", "state": {"type": "PENDING"}}
    assert api.post("/task_runs/", task).status_code == 201
    fresh_state_run = deployed_run(api, "RUNNING")
    api.post(f"/flow_runs/{fresh_state_run['id']}/set_state", {"state": {"type": "RUNNING"}, "force": True})
    # A log line stamped in the past by a slow client still counts by when it arrived.
    late_log_run = deployed_run(api, "RUNNING")
    api.post("/logs/", [{**line, "flow_run_id": late_log_run["id"], "timestamp": HOUR_AGO.isoformat()}])

    assert stuck_flow_runs_find(workspace_id=DEFAULT_WORKSPACE_ID) == []
    assert liveness_service() == 0
    for run in (logging_run, tasking_run, fresh_state_run, late_log_run):
        assert state_of(run["id"])[0] == "RUNNING"


def test_silence_is_per_deployment_and_off_without_one(api: ApiClient) -> None:
    never = deployed_run(api, "RUNNING", silence=0)
    default = deployed_run(api, "RUNNING", silence=None)
    flow = FlowFactory()
    loose = api.post("/flow_runs/", {"flow_id": str(flow.id), "state": {"type": "RUNNING"}}).json()
    go_quiet(loose["id"])
    assert liveness_service() == 0  # defaults: off
    with override_settings(ORION_STUCK_RUNNING_SECONDS=1800):
        assert [stuck.flow_run_id for stuck in stuck_flow_runs_find(workspace_id=DEFAULT_WORKSPACE_ID)] == [
            FlowRun.objects.get(pk=default["id"]).id
        ]
    with override_settings(ORION_STUCK_RUNNING_NO_DEPLOYMENT_SECONDS=1800):
        assert liveness_service() == 1
    assert state_of(loose["id"])[0] == "CRASHED"
    assert state_of(never["id"])[0] == "RUNNING"


def test_cancelling_runs_nothing_will_finish_are_cancelled(api: ApiClient) -> None:
    no_infra = deployed_run(api, "CANCELLING")
    with_infra = deployed_run(api, "CANCELLING", infrastructure_pid="host:123")
    with override_settings(ORION_CANCELLING_TIMEOUT_SECONDS=7200):
        assert liveness_service() == 1
    assert state_of(no_infra["id"]) == (
        "CANCELLED",
        "Cancelling with no infrastructure to stop (no deployment or no infrastructure pid).",
    )
    assert state_of(with_infra["id"])[0] == "CANCELLING"
    with override_settings(ORION_CANCELLING_TIMEOUT_SECONDS=1800):
        assert liveness_service() == 1
    assert state_of(with_infra["id"])[0] == "CANCELLED"


def test_orion_stuck_dry_run_lists_and_changes_nothing(api: ApiClient) -> None:
    run = deployed_run(api, "RUNNING")
    out = io.StringIO()
    call_command("orion_stuck", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{run['id']} {run['name']}: would move RUNNING -> CRASHED: No state, log")
    assert lines[-1] == "1 stuck flow run(s) found."
    assert state_of(run["id"])[0] == "RUNNING"
    out = io.StringIO()
    call_command("orion_stuck", stdout=out)
    assert out.getvalue().splitlines()[-1] == "1 stuck flow run(s) finished."
    assert state_of(run["id"])[0] == "CRASHED"


@pytest.mark.parametrize("dry_run", [True, False])
def test_stuck_route(api: ApiClient, dry_run: bool) -> None:
    run = deployed_run(api, "RUNNING")
    response = api.post("/flow_runs/stuck", {"dry_run": dry_run})
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is dry_run
    assert [(row["flow_run_id"], row["from"], row["to"], row["applied"]) for row in body["flow_runs"]] == [
        (run["id"], "RUNNING", "CRASHED", not dry_run)
    ]
    assert state_of(run["id"])[0] == ("RUNNING" if dry_run else "CRASHED")
    assert api.post("/flow_runs/stuck", {"dry_run": "maybe"}).status_code == 422


def test_a_run_heard_from_after_the_first_look_is_left_alone(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict is checked again with the row locked: a log line arriving between the
    service's first look and its transition keeps the run RUNNING."""
    from runs_app.background import liveness

    run = deployed_run(api, "RUNNING")
    found = liveness.stuck_flow_runs_find(workspace_id=DEFAULT_WORKSPACE_ID)
    assert len(found) == 1
    line = {"name": "x", "level": 20, "message": "still here", "flow_run_id": run["id"]}
    api.post("/logs/", [{**line, "timestamp": dt.datetime.now(dt.UTC).isoformat()}])
    monkeypatch.setattr(liveness, "stuck_flow_runs_find", lambda **kwargs: found)
    assert liveness_service() == 0
    assert state_of(run["id"])[0] == "RUNNING"
