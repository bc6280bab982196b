"""Retention: ``orion_prune``, ``POST /flow_runs/prune`` and the daily service delete
finished runs with everything that points at them, and nothing else."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.background.retention import PrunePolicy, flow_runs_prune, retention_service
from runs_app.models import FlowRun, FlowRunState, Log, TaskRun, TaskRunState, TaskRunStateCache
from tests.helpers import ApiClient, make_flow_run
from tests.runs.retention_helpers import LONG_AGO, NOW, dangling_rows, finished_run, move


def table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (FlowRun, TaskRun, FlowRunState, TaskRunState, TaskRunStateCache, Log)
    }


def test_prune_deletes_old_finished_runs_with_every_row_pointing_at_them(api: ApiClient) -> None:
    old = finished_run(api)
    old_failed = finished_run(api, "FAILED")
    recent = finished_run(api, ended=NOW - dt.timedelta(days=2))
    running = make_flow_run(api, "RUNNING")
    FlowRun.objects.filter(pk=running["id"]).update(start_time=LONG_AGO)
    # A sub-flow of the old run stays (it is a run of its own) but loses its link.
    parent_task = TaskRun.objects.filter(flow_run_id=old["id"]).get()
    child = make_flow_run(api, "RUNNING", parent_task_run_id=str(parent_task.id))
    before = table_counts()

    result = flow_runs_prune(
        policy=PrunePolicy(older_than=dt.timedelta(days=30)), batch_size=1, workspace_id=DEFAULT_WORKSPACE_ID
    )

    assert result.flow_runs == 2 and result.batches == 2
    assert set(FlowRun.objects.values_list("id", flat=True)) == {
        uuid.UUID(recent["id"]),
        uuid.UUID(running["id"]),
        uuid.UUID(child["id"]),
    }
    assert FlowRun.objects.get(pk=child["id"]).parent_task_run_id is None
    after = table_counts()
    # Each finished run had: 3 flow states, 1 task run with 3 states, 1 cache row, 2 logs;
    # the old run's task also got the sub-flow's RUNNING state mirrored onto it.
    assert {name: before[name] - after[name] for name in before} == {
        "FlowRun": 2,
        "TaskRun": 2,
        "FlowRunState": 6,
        "TaskRunState": 7,
        "TaskRunStateCache": 2,
        "Log": 4,
    }
    assert result.deleted["runs_app.Log"] == 4 and result.deleted["runs_app.FlowRunState"] == 6
    assert dangling_rows() == {}
    assert api.get(f"/flow_runs/{old_failed['id']}").status_code == 404


def test_prune_dry_run_counts_per_table_and_deletes_nothing(api: ApiClient) -> None:
    finished_run(api)
    finished_run(api, "CANCELLED")
    before = table_counts()
    out = io.StringIO()
    call_command("orion_prune", "--older-than", "30d", "--dry-run", stdout=out)
    assert table_counts() == before
    lines = out.getvalue().splitlines()
    assert lines[0] == "Would delete 2 flow run(s):"
    counts = {line.split()[0]: int(line.split()[1]) for line in lines[1:]}
    assert counts == {
        "runs_app.Artifact": 0,
        "runs_app.FlowRun": 2,
        "runs_app.FlowRunInput": 0,
        "runs_app.FlowRunState": 6,
        "runs_app.Log": 4,
        "runs_app.TaskRun": 2,
        "runs_app.TaskRunState": 6,
        "runs_app.TaskRunStateCache": 2,
    }


def test_prune_command_filters_by_state_and_flow_and_resumes(api: ApiClient) -> None:
    completed = finished_run(api)
    failed = finished_run(api, "FAILED")
    flow_name = api.get(f"/flows/{failed['flow_id']}").json()["name"]
    out = io.StringIO()
    call_command("orion_prune", "--older-than", "30d", "--state", "failed", "--flow", flow_name, stdout=out)
    assert "Deleted 1 flow run(s):" in out.getvalue()
    assert FlowRun.objects.filter(pk=failed["id"]).count() == 0
    # A second run (as after an interruption) finds what is left.
    call_command("orion_prune", "--older-than", "0d", "--batch", "1", stdout=io.StringIO())
    assert FlowRun.objects.filter(pk=completed["id"]).count() == 0
    assert dangling_rows() == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "30 days"], "is not a number followed by"),
        (["--older-than", "1d", "--state", "RUNNING"], "not a terminal state"),
        (["--older-than", "1d", "--state", "DONE"], "Unknown state type"),
    ],
)
def test_prune_command_refuses_bad_options(db: None, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("orion_prune", *args, stdout=io.StringIO())


def test_prune_route_dry_run_then_prune(api: ApiClient) -> None:
    run = finished_run(api)
    finished_run(api, ended=NOW)
    dry = api.post("/flow_runs/prune", {"older_than": "30d", "dry_run": True})
    assert dry.status_code == 200
    assert dry.json()["flow_runs"] == 1 and dry.json()["tables"]["runs_app.Log"] == 2
    assert FlowRun.objects.filter(pk=run["id"]).exists()
    done = api.post("/flow_runs/prune", {"older_than": "30d", "state_types": ["COMPLETED"]})
    assert done.status_code == 200
    assert done.json() == {
        "dry_run": False,
        "flow_runs": 1,
        "batches": 1,
        "tables": {
            "runs_app.Artifact": 0,
            "runs_app.FlowRun": 1,
            "runs_app.FlowRunInput": 0,
            "runs_app.FlowRunState": 3,
            "runs_app.Log": 2,
            "runs_app.TaskRun": 1,
            "runs_app.TaskRunState": 3,
            "runs_app.TaskRunStateCache": 1,
        },
    }
    assert FlowRun.objects.count() == 1


def test_prune_route_rejects_bad_bodies(api: ApiClient) -> None:
    assert api.post("/flow_runs/prune", {"older_than": "soon"}).status_code == 400
    assert api.post("/flow_runs/prune", {"older_than": "1d", "state_types": ["RUNNING"]}).status_code == 400
    missing = api.post("/flow_runs/prune", {})
    assert missing.status_code == 422
    assert missing.json()["exception_detail"][0]["loc"] == ["body", "older_than"]


def test_retention_service_follows_the_setting(api: ApiClient) -> None:
    finished_run(api)
    with override_settings(ORION_RETENTION_DAYS=0):
        assert retention_service() == 0
    assert FlowRun.objects.count() == 1
    with override_settings(ORION_RETENTION_DAYS=30):
        assert retention_service() == 1
    assert FlowRun.objects.count() == 0


def test_runs_that_never_started_age_by_their_last_state(api: ApiClient) -> None:
    """A run cancelled while SCHEDULED has no end time; its last state's time counts."""
    never_started = make_flow_run(api, "SCHEDULED")
    assert move(api, never_started["id"], "CANCELLED") == "ACCEPT"
    recent = make_flow_run(api, "SCHEDULED")
    assert move(api, recent["id"], "CANCELLED") == "ACCEPT"
    FlowRun.objects.filter(pk=never_started["id"]).update(state_timestamp=LONG_AGO)
    ended = finished_run(api)
    result = flow_runs_prune(
        policy=PrunePolicy(older_than=dt.timedelta(days=30)), batch_size=1, workspace_id=DEFAULT_WORKSPACE_ID
    )
    assert result.flow_runs == 2
    assert list(FlowRun.objects.values_list("id", flat=True)) == [uuid.UUID(recent["id"])]
    assert FlowRun.objects.filter(pk__in=[ended["id"], never_started["id"]]).count() == 0
