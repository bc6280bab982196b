"""The admin doors of the operations services: bulk actions with a confirmation page over a
filtered changelist, deletes that take the logs along, the prune page, stuck runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client

from runs_app.models import FlowRun, Log
from tests.factories import FlowFactory
from tests.helpers import ApiClient


@pytest.fixture
def admin(db: None, client: Client) -> Client:
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw-for-tests"))
    return client


def runs(api: ApiClient, state_type: str, count: int) -> list[str]:
    flow = FlowFactory()
    return [
        api.post("/flow_runs/", {"flow_id": str(flow.id), "state": {"type": state_type}}).json()["id"]
        for _ in range(count)
    ]


def test_set_state_over_a_filtered_changelist_confirms_the_count(api: ApiClient, admin: Client) -> None:
    pending = runs(api, "PENDING", 3)
    runs(api, "RUNNING", 2)
    url = "/admin/runs_app/flowrun/?state_type__exact=PENDING"
    selection = {"action": "set_state", "select_across": "1", "index": "0", "_selected_action": pending[:1]}
    page = admin.post(url, selection).content.decode()
    assert "<strong>3</strong> flow runs selected" in page
    assert '<select name="state_type"' in page
    confirmed = {**selection, "confirm": "yes", "state_type": "CANCELLED", "reason": "queue drained"}
    response = admin.post(url, confirmed, follow=True)
    assert "Set state: 3 run(s) accepted; 0 refused by orchestration." in response.content.decode()
    assert set(FlowRun.objects.filter(pk__in=pending).values_list("state_type", flat=True)) == {"CANCELLED"}
    assert FlowRun.objects.filter(state_type="RUNNING").count() == 2


def test_admin_delete_takes_the_logs_along(api: ApiClient, admin: Client) -> None:
    run_id = runs(api, "COMPLETED", 1)[0]
    line = {"name": "x", "level": 20, "message": "m", "timestamp": dt.datetime.now(dt.UTC).isoformat()}
    api.post("/logs/", [{**line, "flow_run_id": run_id}])
    admin.post(f"/admin/runs_app/flowrun/{run_id}/delete/", {"post": "yes"})
    assert not FlowRun.objects.exists() and not Log.objects.exists()


def test_prune_page_counts_then_deletes(api: ApiClient, admin: Client) -> None:
    done = runs(api, "COMPLETED", 2)
    runs(api, "RUNNING", 1)
    assert "Prune old runs" in admin.get("/admin/runs_app/flowrun/").content.decode()
    form = {"workspace": "1", "older_than": "0d", "state_types": ["COMPLETED", "FAILED"]}
    preview = admin.post("/admin/runs_app/flowrun/prune/", {**form, "preview": "1"}).content.decode()
    assert "Would delete" in preview and 'value="Delete 2 flow run(s)"' in preview
    assert FlowRun.objects.filter(pk__in=done).count() == 2
    admin.post("/admin/runs_app/flowrun/prune/", {**form, "prune": "1"})
    assert FlowRun.objects.filter(pk__in=done).count() == 0 and FlowRun.objects.count() == 1
    bad = admin.post("/admin/runs_app/flowrun/prune/", {**form, "older_than": "soon", "preview": "1"})
    assert "is not a number followed by" in bad.content.decode()


def test_finish_if_stuck_action(api: ApiClient, admin: Client, settings: object) -> None:
    run_id = runs(api, "RUNNING", 1)[0]
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    FlowRun.objects.filter(pk=run_id).update(updated=long_ago, state_timestamp=long_ago)
    settings.ORION_STUCK_RUNNING_NO_DEPLOYMENT_SECONDS = 600  # type: ignore[attr-defined]
    selection = {"action": "finish_if_stuck", "_selected_action": [run_id]}
    asked = admin.post("/admin/runs_app/flowrun/", selection).content.decode()
    assert "<strong>1</strong> flow runs selected" in asked
    assert FlowRun.objects.get(pk=run_id).state_type == "RUNNING"
    response = admin.post("/admin/runs_app/flowrun/", {**selection, "confirm": "yes"}, follow=True)
    assert "1 stuck flow run(s) finished." in response.content.decode()
    assert FlowRun.objects.get(pk=run_id).state_type == "CRASHED"
