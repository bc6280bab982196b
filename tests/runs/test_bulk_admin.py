"""The one confirmation of the runs admin's bulk actions: every action first shows how many
runs the selection holds and a sample, changes nothing until confirmed, then goes through
the bulk service (state actions through the orchestration engine), checked through the API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.helpers import ApiClient

CHANGELIST = "/admin/runs_app/flowrun/"


@pytest.fixture
def operator(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw-for-tests"))
    return client


@pytest.fixture
def flow_id(api: ApiClient) -> str:
    return str(api.post("/flows/", {"name": f"bulk-{uuid.uuid4().hex[:6]}"}).json()["id"])


def new_run(api: ApiClient, flow_id: str, name: str, *states: str, deployment_id: str | None = None) -> str:
    body: dict[str, Any] = {"flow_id": flow_id, "name": name}
    if deployment_id:
        body["deployment_id"] = deployment_id
    run_id = str(api.post("/flow_runs/", body).json()["id"])
    for state_type in states:
        answer = api.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": state_type}}).json()
        assert answer["status"] == "ACCEPT", answer
    return run_id


def state_of(api: ApiClient, run_id: str) -> dict[str, Any]:
    return api.get(f"/flow_runs/{run_id}").json()["state"]


def ask_then_confirm(operator: Client, action: str, ids: list[str], **form: str) -> tuple[str, str]:
    """Post the action (the confirmation page), then confirm it; both pages' text."""
    selection = {"action": action, "_selected_action": ids}
    asked = operator.post(CHANGELIST, selection)
    assert asked.status_code == 200
    done = operator.post(CHANGELIST, {**selection, "confirm": "yes", **form}, follow=True)
    assert done.status_code == 200
    return asked.content.decode(), done.content.decode()


def test_the_changelist_offers_the_confirmed_actions_only(operator: Client) -> None:
    page = operator.get(CHANGELIST).content.decode()
    for action in ("retry_runs", "cancel_runs", "mark_crashed", "set_state", "finish_if_stuck", "delete_runs"):
        assert f'value="{action}"' in page
    # Django's own bulk delete (its own confirmation page, no logs taken along) is gone.
    assert 'value="delete_selected"' not in page
    assert 'value="delete_selected"' not in operator.get("/admin/runs_app/taskrun/").content.decode()


def test_the_confirmation_shows_the_count_and_a_sample_and_changes_nothing(
    api: ApiClient, operator: Client, flow_id: str
) -> None:
    ids = [new_run(api, flow_id, f"run-{i:02d}", "RUNNING") for i in range(23)]
    selection = {"action": "mark_crashed", "select_across": "1", "index": "0", "_selected_action": ids[:1]}
    page = operator.post(f"{CHANGELIST}?state_type__exact=RUNNING", selection).content.decode()
    assert "Mark crashed flow runs: <strong>23</strong> flow runs selected" in page
    assert "The first 20 of 23." in page
    assert page.count('class="orion-state orion-state-running"') == 20
    assert 'name="reason"' in page and 'name="state_type"' not in page
    assert 'value="Yes, mark crashed 23 flow runs"' in page
    assert {state_of(api, run_id)["type"] for run_id in ids} == {"RUNNING"}


def test_bulk_cancel_goes_through_the_engine(api: ApiClient, operator: Client, flow_id: str) -> None:
    running = new_run(api, flow_id, "running", "RUNNING")
    finished = new_run(api, flow_id, "finished", "RUNNING", "COMPLETED")
    _asked, done = ask_then_confirm(operator, "cancel_runs", [running, finished], reason="maintenance window")
    assert "Cancel: 1 run(s) accepted; 1 refused by orchestration." in done
    assert (state_of(api, running)["type"], state_of(api, running)["message"]) == ("CANCELLED", "maintenance window")
    # The engine refuses to cancel a finished run; it stays as it was.
    assert state_of(api, finished)["type"] == "COMPLETED"


def test_bulk_cancel_asks_the_worker_of_a_deployed_run(api: ApiClient, operator: Client, flow_id: str) -> None:
    deployment = api.post("/deployments/", {"name": "nightly", "flow_id": flow_id}).json()["id"]
    run_id = new_run(api, flow_id, "deployed", "RUNNING", deployment_id=deployment)
    ask_then_confirm(operator, "cancel_runs", [run_id])
    state = state_of(api, run_id)
    assert state["type"] == "CANCELLING"
    assert state["message"] == "Cancel from the admin by ops."


def test_bulk_retry_reschedules_failed_deployed_runs(api: ApiClient, operator: Client, flow_id: str) -> None:
    deployment = api.post("/deployments/", {"name": "nightly", "flow_id": flow_id}).json()["id"]
    failed = new_run(api, flow_id, "failed", "RUNNING", "FAILED", deployment_id=deployment)
    _asked, done = ask_then_confirm(operator, "retry_runs", [failed], reason="upstream fixed")
    assert "Retry: 1 run(s) accepted; 0 refused by orchestration." in done
    state = state_of(api, failed)
    assert (state["type"], state["name"], state["message"]) == ("SCHEDULED", "AwaitingRetry", "upstream fixed")


def test_bulk_set_state_needs_a_state_and_a_reason(api: ApiClient, operator: Client, flow_id: str) -> None:
    run_id = new_run(api, flow_id, "pending")
    asked, refused = ask_then_confirm(operator, "set_state", [run_id], state_type="FAILED")
    assert 'name="state_type"' in asked
    assert "This field is required." in refused
    assert state_of(api, run_id)["type"] == "PENDING"
    _asked, done = ask_then_confirm(
        operator, "set_state", [run_id], state_type="FAILED", state_name="Abandoned", reason="host decommissioned"
    )
    assert "Set state: 1 run(s) accepted; 0 refused by orchestration." in done
    state = state_of(api, run_id)
    assert (state["type"], state["name"], state["message"]) == ("FAILED", "Abandoned", "host decommissioned")


def test_bulk_delete_takes_task_runs_and_logs_along(api: ApiClient, operator: Client, flow_id: str) -> None:
    doomed = new_run(api, flow_id, "doomed", "RUNNING", "COMPLETED")
    kept = new_run(api, flow_id, "kept")
    api.post("/task_runs/", {"flow_run_id": doomed, "task_key": "t", "dynamic_key": "0"})
    line = {"name": "x", "level": 20, "message": "m", "timestamp": dt.datetime.now(dt.UTC).isoformat()}
    api.post("/logs/", [{**line, "flow_run_id": doomed}, {**line, "flow_run_id": kept}])
    asked, done = ask_then_confirm(operator, "delete_runs", [doomed])
    assert "Delete flow runs: <strong>1</strong> flow runs selected" in asked
    assert "Deleted 1 flow run(s) with their task runs, states and logs." in done
    assert api.get(f"/flow_runs/{doomed}").status_code == 404
    assert api.post("/task_runs/count", {"flow_runs": {"id": {"any_": [doomed]}}}).json() == 0
    assert [log["flow_run_id"] for log in api.post("/logs/filter", {}).json()] == [kept]


def test_selecting_every_run_of_an_unfiltered_list_needs_no_all(api: ApiClient, operator: Client, flow_id: str) -> None:
    """The admin names the runs it acts on (their ids), so the API's refusal of a bulk
    action without a filter never applies to it, even for "select all" on the whole list."""
    ids = [new_run(api, flow_id, f"run-{i}", "RUNNING") for i in range(3)]
    selection = {"action": "cancel_runs", "select_across": "1", "index": "0", "_selected_action": ids[:1]}
    done = operator.post(CHANGELIST, {**selection, "confirm": "yes"}, follow=True).content.decode()
    assert "Cancel: 3 run(s) accepted; 0 refused by orchestration." in done
    selection["action"] = "delete_runs"
    done = operator.post(CHANGELIST, {**selection, "confirm": "yes"}, follow=True).content.decode()
    assert "Deleted 3 flow run(s) with their task runs, states and logs." in done
    assert api.post("/flow_runs/count", {}).json() == 0


def test_bulk_delete_of_task_runs_is_confirmed_too(api: ApiClient, operator: Client, flow_id: str) -> None:
    run_id = new_run(api, flow_id, "parent", "RUNNING")
    task = api.post("/task_runs/", {"flow_run_id": run_id, "task_key": "t", "dynamic_key": "0"}).json()["id"]
    selection = {"action": "delete_task_runs", "_selected_action": [task]}
    asked = operator.post("/admin/runs_app/taskrun/", selection).content.decode()
    assert "<strong>1</strong> task runs selected" in asked
    assert api.get(f"/task_runs/{task}").status_code == 200
    done = operator.post("/admin/runs_app/taskrun/", {**selection, "confirm": "yes"}, follow=True).content.decode()
    assert "Deleted 1 task run(s)." in done
    assert api.get(f"/task_runs/{task}").status_code == 404
