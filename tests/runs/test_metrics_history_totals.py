"""``/api/metrics`` flow-run gauges with the stored sums of the history's old hours: the
answer equals counting the runs after creates, state changes of old runs, deletes and
retention, with or without a pass of the ``metrics`` service in between."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from runs_app.background.metrics import flow_run_history_totals_refresh, run_counts_refresh
from runs_app.background.retention import PrunePolicy, flow_runs_prune
from runs_app.models import FlowRun, FlowRunHistoryBucket, FlowRunHistoryTotal
from runs_app.rollup.writes import ALL_FLOWS
from runs_app.states import StateType
from tests.helpers import ApiClient, make_flow_run, scrape
from tests.runs.retention_helpers import move

NOW = dt.datetime.now(dt.UTC)


def old_run(api: ApiClient, days: float, name: str | None = None) -> str:
    """A flow run expected to start ``days`` ago (its rollup hour that old)."""
    state: dict[str, Any] = {"type": "SCHEDULED", "state_details": {"scheduled_time": _ago(days)}}
    if name:
        state["name"] = name
    return str(make_flow_run(api, None, state=state)["id"])


def _ago(days: float) -> str:
    return (NOW - dt.timedelta(days=days)).isoformat()


def assert_counts_match(client: Client) -> dict[Any, float]:
    """Every flow-run gauge of the default workspace equals counting its runs."""
    samples = scrape(client)
    for state_type in StateType.values:
        key = ("orion_flow_runs", (("state_type", state_type), ("workspace", "default")))
        assert samples[key] == FlowRun.objects.filter(state_type=state_type).count(), state_type
    late = FlowRun.objects.filter(state_type="SCHEDULED", state_name="Late").count()
    assert samples[("orion_late_flow_runs", (("workspace", "default"),))] == late
    return samples


def stored() -> FlowRunHistoryTotal:
    return FlowRunHistoryTotal.objects.get(workspace_id=DEFAULT_WORKSPACE_ID)


@pytest.mark.django_db(transaction=True)
def test_counts_stay_exact_through_writes_to_old_hours(api: ApiClient, client: Client) -> None:
    runs = [old_run(api, 10) for _ in range(4)] + [old_run(api, 40, "Late"), old_run(api, 0.01)]
    for run_id in runs[:2]:
        assert move(api, run_id, "PENDING") == "ACCEPT"
        assert move(api, run_id, "RUNNING") == "ACCEPT"
    run_counts_refresh()
    assert stored().before is not None
    assert sorted(map(tuple, stored().counts)) == [
        ("RUNNING", "Running", 2),
        ("SCHEDULED", "Late", 1),
        ("SCHEDULED", "Scheduled", 2),
    ]
    assert_counts_match(client)

    # A run created or moved in a recent hour is counted at once; the stored sum stays.
    make_flow_run(api, "RUNNING")
    assert move(api, runs[-1], "CANCELLED") == "ACCEPT"
    assert stored().before is not None
    assert_counts_match(client)

    # A late state change of a run of an old hour clears the stored sum, and the scrape
    # sums that workspace live until the next pass.
    assert flow_run_history_totals_refresh() == 0  # still valid: kept as it is
    assert move(api, runs[0], "COMPLETED") == "ACCEPT"
    assert stored().before is None
    assert_counts_match(client)
    assert flow_run_history_totals_refresh() == 1
    assert stored().before is not None
    assert_counts_match(client)

    # Deleting an old run through the API.
    assert api.delete(f"/flow_runs/{runs[2]}").status_code == 204
    assert stored().before is None
    assert_counts_match(client)
    run_counts_refresh()

    # Retention deleting old runs.
    assert move(api, runs[1], "FAILED") == "ACCEPT"
    run_counts_refresh()
    FlowRun.objects.filter(pk__in=runs[:2]).update(end_time=NOW - dt.timedelta(days=40))
    result = flow_runs_prune(policy=PrunePolicy(older_than=dt.timedelta(days=30)), workspace_id=DEFAULT_WORKSPACE_ID)
    assert result.flow_runs == 2
    assert stored().before is None
    assert_counts_match(client)
    run_counts_refresh()
    samples = assert_counts_match(client)
    assert samples[("orion_flow_runs", (("state_type", "COMPLETED"), ("workspace", "default")))] == 0


@pytest.mark.django_db(transaction=True)
def test_the_scrape_reads_the_stored_sum_not_the_old_rows(api: ApiClient, client: Client) -> None:
    """While the stored sum is valid, the old hours' rows are not read again (a row
    changed behind the write path's back shows it); a workspace without one is live."""
    old_run(api, 10)
    other = Workspace.objects.create(slug="ops", name="ops")
    run_counts_refresh()
    assert FlowRunHistoryTotal.objects.get(workspace_id=other.id).counts == []
    FlowRunHistoryBucket.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID, flow_id=ALL_FLOWS).update(count_runs=7)
    key = ("orion_flow_runs", (("state_type", "SCHEDULED"), ("workspace", "default")))
    assert scrape(client)[key] == 1
    FlowRunHistoryTotal.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID).update(before=None)
    assert scrape(client)[key] == 7
    assert scrape(client)[("orion_flow_runs", (("state_type", "SCHEDULED"), ("workspace", "ops")))] == 0


@pytest.mark.django_db(transaction=True)
def test_a_deleted_workspace_loses_its_stored_sum(client: Client) -> None:
    other = Workspace.objects.create(slug="gone", name="gone")
    run_counts_refresh()
    assert FlowRunHistoryTotal.objects.filter(workspace_id=other.id).exists()
    other.delete()
    run_counts_refresh()
    assert not FlowRunHistoryTotal.objects.filter(workspace_id=other.id).exists()
    assert ("orion_flow_runs", (("state_type", "SCHEDULED"), ("workspace", "gone"))) not in scrape(client)


@pytest.mark.django_db(transaction=True)
def test_a_pass_waits_for_an_open_write_to_an_old_hour(api: ApiClient, client: Client) -> None:
    """A state write to an old hour holds the workspace's stored sum until it commits; the
    service's pass waits for it and sums with it, never storing a sum without it."""
    run_id = old_run(api, 10)
    run_counts_refresh()
    written = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with transaction.atomic():
                assert move(ApiClient(Client()), run_id, "CANCELLED") == "ACCEPT"
                written.set()
                time.sleep(1.0)
        except BaseException as error:  # reported to the test's thread
            errors.append(error)
            written.set()
        finally:
            connection.close()

    def refresh() -> None:
        try:
            run_counts_refresh()
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    assert written.wait(30)
    service = threading.Thread(target=refresh)
    service.start()
    writer.join()
    service.join()
    assert not errors
    assert stored().before is not None
    assert sorted(map(tuple, stored().counts)) == [("CANCELLED", "Cancelled", 1)]
    assert_counts_match(client)
