"""``GET /api/metrics``: Prometheus text with run, queue, limit, service and request metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from flows_app.models import WorkPool, WorkQueue
from orion_project.models import DEFAULT_WORKSPACE_ID
from orion_project.registry import Service
from orion_project.service_loop import run_once
from runs_app.background.metrics import run_counts_refresh
from runs_app.models import FlowRun
from tests.factories import FlowFactory
from tests.helpers import ApiClient, scrape


def create_runs(api: ApiClient, flow_id: str, state: dict[str, Any], count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = api.post("/flow_runs/", {"flow_id": flow_id, "state": state})
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


# ``run_once`` closes stale connections as the loop does, which ends a test transaction.
@pytest.mark.django_db(transaction=True)
def test_metrics_report_runs_queues_limits_and_services(
    api: ApiClient, client: Client, django_assert_num_queries: Any
) -> None:
    flow_id = str(FlowFactory().id)
    pool = WorkPool.objects.create(name="pool", workspace_id=DEFAULT_WORKSPACE_ID)
    queue = WorkQueue.objects.create(
        name="q", work_pool=pool, last_polled=dt.datetime.now(dt.UTC), workspace_id=DEFAULT_WORKSPACE_ID
    )
    WorkQueue.objects.create(name="idle", work_pool=pool, workspace_id=DEFAULT_WORKSPACE_ID)
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    queued = create_runs(api, flow_id, {"type": "SCHEDULED", "state_details": {"scheduled_time": soon}}, 3)
    FlowRun.objects.filter(pk__in=queued).update(work_queue=queue)  # as a deployment's runs are
    create_runs(api, flow_id, {"type": "RUNNING"}, 2)
    overdue = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).isoformat()
    create_runs(api, flow_id, {"type": "SCHEDULED", "name": "Late", "state_details": {"scheduled_time": overdue}}, 1)
    api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 4})
    run_once(Service("metrics", run_counts_refresh, 15))

    # Queries: the workspaces (their slugs label every gauge) with each one's oldest Late
    # run, flow runs per state (the rollup's all-hours rows and the runs outside it), the
    # task-run snapshot, the queues with their pools and scheduled runs, concurrency
    # limits, service heartbeats: each reads every workspace at once, so their number
    # does not grow with the workspaces.
    with django_assert_num_queries(6):
        samples = scrape(client)

    assert samples[("orion_flow_runs", (("state_type", "SCHEDULED"), ("workspace", "default")))] == 4
    assert samples[("orion_flow_runs", (("state_type", "RUNNING"), ("workspace", "default")))] == 2
    assert samples[("orion_flow_runs", (("state_type", "COMPLETED"), ("workspace", "default")))] == 0
    assert samples[("orion_task_runs", (("state_type", "RUNNING"), ("workspace", "default")))] == 0
    assert samples[("orion_late_flow_runs", (("workspace", "default"),))] == 1
    assert 590 < samples[("orion_oldest_late_flow_run_seconds", (("workspace", "default"),))] < 700
    assert (
        samples[
            ("orion_work_queue_scheduled_runs", (("work_pool", "pool"), ("work_queue", "q"), ("workspace", "default")))
        ]
        == 3
    )
    assert (
        samples[
            (
                "orion_work_queue_scheduled_runs",
                (("work_pool", "pool"), ("work_queue", "idle"), ("workspace", "default")),
            )
        ]
        == 0
    )
    assert (
        samples[
            (
                "orion_work_queue_last_polled_seconds",
                (("work_pool", "pool"), ("work_queue", "q"), ("workspace", "default")),
            )
        ]
        < 60
    )
    assert (
        "orion_work_queue_last_polled_seconds",
        (("work_pool", "pool"), ("work_queue", "idle"), ("workspace", "default")),
    ) not in samples
    assert samples[("orion_concurrency_slots_used", (("tag", "db"), ("workspace", "default")))] == 0
    assert samples[("orion_concurrency_slots_limit", (("tag", "db"), ("workspace", "default")))] == 4
    assert samples[("orion_service_loop_seconds", (("service", "metrics"),))] >= 0
    last_success = samples[("orion_service_last_success_timestamp", (("service", "metrics"),))]
    assert abs(last_success - dt.datetime.now(dt.UTC).timestamp()) < 60
    # The requests above were counted by route, method and status.
    created = (
        "orion_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "flow_runs-list"), ("status", "201")),
    )
    assert samples[created] >= 6


def test_counts_are_live_until_the_metrics_service_has_run(api: ApiClient, client: Client) -> None:
    create_runs(api, str(FlowFactory().id), {"type": "COMPLETED"}, 2)
    assert scrape(client)[("orion_flow_runs", (("state_type", "COMPLETED"), ("workspace", "default")))] == 2


@pytest.mark.django_db(transaction=True)
def test_flow_run_counts_stay_live_after_the_metrics_service_ran(api: ApiClient, client: Client) -> None:
    """Flow-run gauges come from the history rollup, so a run moved after the service's
    pass is counted at once; the task-run gauges wait for the next pass."""
    flow_id = str(FlowFactory().id)
    run_id = create_runs(api, flow_id, {"type": "RUNNING"}, 1)[0]
    run_once(Service("metrics", run_counts_refresh, 15))
    assert api.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": "COMPLETED"}}).json()["status"] == "ACCEPT"
    overdue = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    create_runs(api, flow_id, {"type": "SCHEDULED", "name": "Late", "state_details": {"scheduled_time": overdue}}, 2)
    samples = scrape(client)
    assert samples[("orion_flow_runs", (("state_type", "RUNNING"), ("workspace", "default")))] == 0
    assert samples[("orion_flow_runs", (("state_type", "COMPLETED"), ("workspace", "default")))] == 1
    assert samples[("orion_flow_runs", (("state_type", "SCHEDULED"), ("workspace", "default")))] == 2
    assert samples[("orion_late_flow_runs", (("workspace", "default"),))] == 2
    # What every gauge says equals what counting the runs says.
    for state_type in ("RUNNING", "COMPLETED", "SCHEDULED", "FAILED"):
        assert (
            samples[("orion_flow_runs", (("state_type", state_type), ("workspace", "default")))]
            == FlowRun.objects.filter(state_type=state_type).count()
        )


@pytest.mark.django_db(transaction=True)
def test_a_failing_service_records_its_failure(db: None, client: Client) -> None:
    def broken() -> int:
        raise RuntimeError("boom")

    assert run_once(Service("broken", broken, 1)) == 0
    samples = scrape(client)
    assert ("orion_service_last_success_timestamp", (("service", "broken"),)) not in samples
    assert samples[("orion_service_last_failure_timestamp", (("service", "broken"),))] > 0


def test_metrics_route_only_answers_get(db: None, client: Client) -> None:
    assert client.post("/api/metrics").status_code == 405
