"""``/api/metrics`` flow-run gauges from the history rollup's all-hours rows: they equal
counting the runs, and the all-hours rows equal the sums of the all-flows rows, after
creates in old and recent hours, state changes of old runs, deletes, retention and
bulk rebuilds, in two workspaces."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from runs_app.background.retention import PrunePolicy, flow_runs_prune
from runs_app.models import FlowRun, FlowRunHistoryBucket
from runs_app.rollup.writes import ALL_FLOWS, ALL_HOURS, flow_run_history_rebuild
from tests.helpers import ApiClient, WorkspaceApi, make_flow_run, scrape
from tests.runs.retention_helpers import move
from tests.runs.rollup_helpers import assert_counts_match, sums

NOW = dt.datetime.now(dt.UTC)


def old_run(api: ApiClient, days: float, name: str | None = None) -> str:
    """A flow run expected to start ``days`` ago (its rollup hour that old)."""
    state: dict[str, Any] = {"type": "SCHEDULED", "state_details": {"scheduled_time": _ago(days)}}
    if name:
        state["name"] = name
    return str(make_flow_run(api, None, state=state)["id"])


def _ago(days: float) -> str:
    return (NOW - dt.timedelta(days=days)).isoformat()


@pytest.mark.django_db(transaction=True)
def test_counts_stay_exact_through_writes_to_old_and_recent_hours(api: ApiClient, client: Client) -> None:
    runs = [old_run(api, 10) for _ in range(4)] + [old_run(api, 40, "Late"), old_run(api, 0.01)]
    for run_id in runs[:2]:
        assert move(api, run_id, "PENDING") == "ACCEPT"
        assert move(api, run_id, "RUNNING") == "ACCEPT"
    assert_counts_match(client)

    # A run created in a recent hour, a recent one cancelled, an old one completed.
    make_flow_run(api, "RUNNING")
    assert move(api, runs[-1], "CANCELLED") == "ACCEPT"
    assert move(api, runs[0], "COMPLETED") == "ACCEPT"
    assert_counts_match(client)

    # Deleting an old run through the API.
    assert api.delete(f"/flow_runs/{runs[2]}").status_code == 204
    assert_counts_match(client)

    # Retention deleting old runs.
    assert move(api, runs[1], "FAILED") == "ACCEPT"
    FlowRun.objects.filter(pk__in=runs[:2]).update(end_time=NOW - dt.timedelta(days=40))
    result = flow_runs_prune(policy=PrunePolicy(older_than=dt.timedelta(days=30)), workspace_id=DEFAULT_WORKSPACE_ID)
    assert result.flow_runs == 2
    samples = assert_counts_match(client)
    assert samples[("orion_flow_runs", (("state_type", "COMPLETED"), ("workspace", "default")))] == 0

    # Recomputed from the runs, the rows are the same.
    before = sums(DEFAULT_WORKSPACE_ID, ALL_HOURS)
    flow_run_history_rebuild()
    assert sums(DEFAULT_WORKSPACE_ID, ALL_HOURS) == before
    assert_counts_match(client)


def test_each_workspace_counts_its_own_runs(api: ApiClient, client: Client) -> None:
    Workspace.objects.create(slug="ops", name="ops")
    ops = WorkspaceApi(client, "ops")
    old_run(api, 3)
    make_flow_run(api, "RUNNING")
    flow_id = ops.post("/flows/", {"name": "etl"}).json()["id"]
    ids = [ops.post("/flow_runs/", {"flow_id": flow_id, "state": {"type": "RUNNING"}}).json()["id"] for _ in range(2)]
    assert move(ops, ids[0], "COMPLETED") == "ACCEPT"
    assert_counts_match(client)
    samples = assert_counts_match(client, "ops")
    assert samples[("orion_flow_runs", (("state_type", "RUNNING"), ("workspace", "ops")))] == 1


def test_the_scrape_reads_the_all_hours_rows_not_the_hourly_ones(api: ApiClient, client: Client) -> None:
    """A scrape reads a row per state, not the hours: a row changed behind the write
    path's back shows which ones it reads."""
    old_run(api, 10)
    key = ("orion_flow_runs", (("state_type", "SCHEDULED"), ("workspace", "default")))
    assert scrape(client)[key] == 1
    FlowRunHistoryBucket.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID, flow_id=ALL_FLOWS).update(count_runs=7)
    assert scrape(client)[key] == 1
    FlowRunHistoryBucket.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID, flow_id=ALL_HOURS).update(count_runs=5)
    assert scrape(client)[key] == 5


def test_the_all_hours_rows_are_no_flow_a_client_may_name(api: ApiClient) -> None:
    make_flow_run(api, "COMPLETED")
    flows = {"flows": {"id": {"any_": [str(ALL_HOURS), str(ALL_FLOWS)]}}}
    assert api.post("/flow_runs/count", flows).json() == 0
    body = {
        "history_start": _ago(2),
        "history_end": _ago(-1),
        "history_interval_seconds": 3600 * 24,
        **flows,
    }
    history = api.post("/flow_runs/history", body).json()
    assert all(not interval["states"] for interval in history)


@pytest.mark.django_db(transaction=True)
def test_a_deleted_workspace_loses_its_rows(api: ApiClient, client: Client) -> None:
    other = Workspace.objects.create(slug="gone", name="gone")
    FlowRunHistoryBucket.objects.create(
        workspace_id=other.id, flow_id=ALL_HOURS, bucket=NOW, state_type="RUNNING", state_name="Running", count_runs=1
    )
    assert scrape(client)[("orion_flow_runs", (("state_type", "RUNNING"), ("workspace", "gone")))] == 1
    other.delete()
    assert ("orion_flow_runs", (("state_type", "RUNNING"), ("workspace", "gone"))) not in scrape(client)
