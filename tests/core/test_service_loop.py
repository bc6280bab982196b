"""Background services: scheduler and late-run marking, and their commands (reference §F.7)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connections

from flows_app.background.scheduler import schedule_deployments
from runs_app.background.late_runs import mark_late_runs
from runs_app.models import FlowRun
from tests.factories import FlowFactory
from tests.helpers import ApiClient, make_flow_run

HOURLY = {"interval": 3600, "anchor_date": "2026-01-01T00:00:00+00:00"}


def deployment(api: ApiClient, **fields: Any) -> dict[str, Any]:
    flow = FlowFactory()
    response = api.post("/deployments/", {"name": "scheduled", "flow_id": str(flow.id), **fields})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def test_scheduler_creates_upcoming_runs_once(api: ApiClient) -> None:
    active = deployment(api, schedule=HOURLY)
    deployment(api, schedule=HOURLY, is_schedule_active=False)
    deployment(api)  # no schedule
    assert schedule_deployments() == 3
    runs = FlowRun.objects.filter(deployment_id=active["id"]).order_by("next_scheduled_start_time")
    assert runs.count() == 3
    times = [run.next_scheduled_start_time for run in runs if run.next_scheduled_start_time is not None]
    assert all(later - earlier == dt.timedelta(hours=1) for earlier, later in itertools.pairwise(times))
    assert {run.state_name for run in runs} == {"Scheduled"}
    assert schedule_deployments() == 0  # nothing new: idempotency keys
    assert FlowRun.objects.count() == 3


def test_scheduler_respects_cron_time_zone(api: ApiClient) -> None:
    cron = deployment(api, schedule={"cron": "30 9 * * *", "timezone": "America/New_York"})
    schedule_deployments()
    local_times = {
        run.next_scheduled_start_time.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M")
        for run in FlowRun.objects.filter(deployment_id=cron["id"])
        if run.next_scheduled_start_time is not None
    }
    assert local_times == {"09:30"}


def test_late_runs_only_touch_overdue_scheduled_runs(api: ApiClient) -> None:
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    overdue = make_flow_run(api, state={"type": "SCHEDULED", "state_details": {"scheduled_time": past}})
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    upcoming = make_flow_run(api, state={"type": "SCHEDULED", "state_details": {"scheduled_time": future}})
    pending = make_flow_run(api, "PENDING")
    running = make_flow_run(api, "RUNNING")
    FlowRun.objects.filter(pk__in=[pending["id"], running["id"]]).update(
        next_scheduled_start_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    )
    assert mark_late_runs() == 1
    late = api.get(f"/flow_runs/{overdue['id']}").json()
    assert (late["state_type"], late["state_name"]) == ("SCHEDULED", "Late")
    assert late["state"]["state_details"]["scheduled_time"] == overdue["state"]["state_details"]["scheduled_time"]
    assert api.get(f"/flow_runs/{upcoming['id']}").json()["state_name"] == "Scheduled"
    assert api.get(f"/flow_runs/{pending['id']}").json()["state_type"] == "PENDING"
    assert api.get(f"/flow_runs/{running['id']}").json()["state_type"] == "RUNNING"
    assert mark_late_runs() == 0  # already late
    status = api.get(f"/work_queues/{api.post('/work_queues/', {'name': 'q'}).json()['id']}/status").json()
    assert status["late_runs_count"] == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_schedulers_create_no_duplicates() -> None:
    from django.test import Client

    from tests.helpers import ApiClient as Api

    api = Api(Client())
    for index in range(6):
        flow = FlowFactory()
        api.post("/deployments/", {"name": f"d{index}", "flow_id": str(flow.id), "schedule": HOURLY})
    barrier = threading.Barrier(4)
    created: list[int] = []

    def scheduler() -> None:
        barrier.wait()
        try:
            created.append(schedule_deployments(batch_size=2))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(created) == 18
    assert FlowRun.objects.count() == 18
    keys = list(FlowRun.objects.values_list("idempotency_key", flat=True))
    assert len(set(keys)) == 18


# ``run_once`` closes stale connections as the loop does; inside a test transaction that
# closes the test's own connection and every pass failed (answering 0), so this test runs
# with real transactions.
@pytest.mark.django_db(transaction=True)
def test_service_commands(api: ApiClient) -> None:
    deployment(api, schedule=HOURLY)
    out = io.StringIO()
    call_command("orion_scheduler", stdout=out)
    assert "Scheduled 3 flow run(s)." in out.getvalue()
    out = io.StringIO()
    call_command("orion_late_runs", stdout=out)
    assert "Marked 0 flow run(s) late." in out.getvalue()
    out = io.StringIO()
    call_command("orion_services", "--once", stdout=out)
    # metrics: one count per state type, for flow runs and task runs.
    assert out.getvalue().splitlines() == [
        "scheduler: 0",
        "statuses: 0",
        "late_runs: 0",
        "slots: 0",
        "liveness: 0",
        "metrics: 9",  # task runs per state type of the one workspace
        "retention: 0",
        "audit_retention: 0",
        "events_retention: 0",
        "triggers: 3",  # events read: the Scheduled state events of the three runs above
        "proactive_triggers: 0",
        "actions: 0",
    ]
    out = io.StringIO()
    call_command("orion_services", "--once", "--only", "late_runs", stdout=out)
    assert out.getvalue().splitlines() == ["late_runs: 0"]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("orion_services", "--once", "--only", "nope")
