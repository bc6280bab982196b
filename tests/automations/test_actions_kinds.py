"""Every action type of 2.20 (and resume-flow-run), run by the actions service on
``ActionRun`` rows, its effect read back through the API, its target selected or inferred
from the triggering event as the reference does, never in another workspace."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from automations_app.actions import run_due_actions
from automations_app.models import ActionRun
from orion_project.models import Workspace
from tests.automations.actions_helpers import action_run, automation, deployment, event, outcome
from tests.helpers import ApiClient, WorkspaceApi, make_flow_run

pytestmark = pytest.mark.django_db


def _deployment_run(api: ApiClient, state_type: str) -> dict[str, Any]:
    """A flow run of a deployment (a run without one cannot be suspended)."""
    target = deployment(api)
    response = api.post(f"/deployments/{target['id']}/create_flow_run", {"state": {"type": state_type}})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def _run(action: dict[str, Any], **kwargs: Any) -> ActionRun:
    run = action_run(action, **kwargs)
    assert run_due_actions() == 1
    run.refresh_from_db()
    return run


def test_do_nothing_is_done(api: ApiClient) -> None:
    run = _run({"type": "do-nothing"})
    assert (run.status, run.attempts) == ("done", 1)
    assert outcome(run).event == "prefect.automation.action.executed"


@pytest.mark.parametrize("source", ["selected", "inferred"])
def test_pause_and_resume_deployment(api: ApiClient, source: str) -> None:
    target = deployment(api)
    fired = event(f"prefect.flow-run.{uuid.uuid4()}", (f"prefect.deployment.{target['id']}", "deployment"))
    selected = {"deployment_id": target["id"]} if source == "selected" else {}
    run = _run({"type": "pause-deployment", "source": source, **selected}, triggering_event=fired)
    assert run.status == "done"
    assert api.get(f"/deployments/{target['id']}").json()["paused"] is True
    assert outcome(run).related == [
        {"prefect.resource.id": f"prefect.deployment.{target['id']}", "prefect.resource.role": "target"}
    ]
    assert outcome(run).payload["status_code"] == 200
    _run({"type": "resume-deployment", "source": source, **selected}, triggering_event=fired)
    assert api.get(f"/deployments/{target['id']}").json()["paused"] is False


def test_an_inferred_target_needs_an_event_naming_one(api: ApiClient) -> None:
    without_event = _run({"type": "pause-deployment", "source": "inferred"})
    assert (without_event.status, without_event.last_error) == ("failed", "No event to infer the deployment")
    fired = event(f"prefect.flow-run.{uuid.uuid4()}", ("prefect.deployment.not-a-uuid", "deployment"))
    unnamed = _run({"type": "pause-work-queue", "source": "inferred"}, triggering_event=fired)
    assert unnamed.last_error == "No work queue could be inferred"
    assert outcome(unnamed).payload["reason"] == "No work queue could be inferred"


def test_a_missing_deployment_fails_with_the_reference_status(api: ApiClient) -> None:
    missing = str(uuid.uuid4())
    run = _run({"type": "pause-deployment", "source": "selected", "deployment_id": missing})
    assert run.status == "failed"
    assert run.last_error == "Unexpected status from pause-deployment action: 404"
    assert outcome(run).payload["status_code"] == 404


def test_run_deployment_creates_a_scheduled_run_once(api: ApiClient) -> None:
    target = deployment(api, parameters={"a": 1, "b": 2})
    action = {
        "type": "run-deployment",
        "source": "selected",
        "deployment_id": target["id"],
        "parameters": {"b": 3},
        "job_variables": {"memory": "{{ not rendered }}"},
    }
    run = _run(action)
    [created] = api.post("/flow_runs/filter", {}).json()
    assert created["deployment_id"] == target["id"]
    assert created["state"]["type"] == "SCHEDULED"
    assert created["parameters"] == {"a": 1, "b": 3}
    assert created["job_variables"] == {"memory": "{{ not rendered }}"}
    owner_id = run.firing["automation"]["id"]
    assert created["idempotency_key"] == f"automation {owner_id}, action 0, invocation {run.id}"
    assert outcome(run).related == [
        {"prefect.resource.id": f"prefect.deployment.{target['id']}", "prefect.resource.role": "target"},
        {
            "prefect.resource.id": f"prefect.flow-run.{created['id']}",
            "prefect.resource.role": "flow-run",
            "prefect.resource.name": created["name"],
        },
    ]
    assert outcome(run).payload["status_code"] == 201


@pytest.mark.parametrize(
    ("action", "state_type", "state_name", "message"),
    [
        ({"type": "change-flow-run-state", "state": "COMPLETED"}, "COMPLETED", "Completed", "State changed by"),
        (
            {"type": "change-flow-run-state", "state": "FAILED", "name": "Mine", "message": "said so"},
            "FAILED",
            "Mine",
            "said so",
        ),
        ({"type": "cancel-flow-run"}, "CANCELLING", "Cancelling", "Cancelled by Automation"),
        ({"type": "suspend-flow-run"}, "PAUSED", "Suspended", "Suspended by Automation"),
    ],
)
def test_flow_run_state_changes(
    api: ApiClient, action: dict[str, Any], state_type: str, state_name: str, message: str
) -> None:
    flow_run = _deployment_run(api, "RUNNING")
    run = _run(action, triggering_event=event(f"prefect.flow-run.{flow_run['id']}"))
    assert run.status == "done", run.last_error
    state = api.get(f"/flow_runs/{flow_run['id']}").json()["state"]
    assert (state["type"], state["name"]) == (state_type, state_name)
    assert state["message"].startswith(message)
    assert outcome(run).payload["status_code"] == 201


def test_a_rejected_state_fails_the_action(api: ApiClient) -> None:
    flow_run = make_flow_run(api, "COMPLETED")
    run = _run({"type": "cancel-flow-run"}, triggering_event=event(f"prefect.flow-run.{flow_run['id']}"))
    assert run.status == "failed"
    assert run.last_error.startswith("Failed to set state: ")
    assert api.get(f"/flow_runs/{flow_run['id']}").json()["state"]["type"] == "COMPLETED"


def test_the_triggering_labels_name_the_flow_run_first(api: ApiClient) -> None:
    labelled, named = make_flow_run(api, "RUNNING"), make_flow_run(api, "RUNNING")
    run = _run(
        {"type": "cancel-flow-run"},
        triggering_event=event(f"prefect.flow-run.{named['id']}"),
        labels={"prefect.resource.id": f"prefect.flow-run.{labelled['id']}"},
    )
    assert run.status == "done"
    assert api.get(f"/flow_runs/{labelled['id']}").json()["state"]["type"] == "CANCELLING"
    assert api.get(f"/flow_runs/{named['id']}").json()["state"]["type"] == "RUNNING"


def test_resume_flow_run(api: ApiClient) -> None:
    flow_run = _deployment_run(api, "RUNNING")
    fired = event(f"prefect.flow-run.{flow_run['id']}")
    _run({"type": "suspend-flow-run"}, triggering_event=fired)
    run = _run({"type": "resume-flow-run"}, triggering_event=fired)
    assert run.status == "done", run.last_error
    state = api.get(f"/flow_runs/{flow_run['id']}").json()["state"]
    assert (state["type"], state["name"]) == ("SCHEDULED", "Resuming")


@pytest.mark.parametrize("source", ["selected", "inferred"])
def test_pause_and_resume_work_queue(api: ApiClient, source: str) -> None:
    queue = api.post("/work_queues/", {"name": f"q-{source}"}).json()
    fired = event(f"prefect.flow-run.{uuid.uuid4()}", (f"prefect.work-queue.{queue['id']}", "work-queue"))
    selected = {"work_queue_id": queue["id"]} if source == "selected" else {}
    run = _run({"type": "pause-work-queue", "source": source, **selected}, triggering_event=fired)
    assert api.get(f"/work_queues/{queue['id']}").json()["is_paused"] is True
    assert outcome(run).payload["status_code"] == 204
    _run({"type": "resume-work-queue", "source": source, **selected}, triggering_event=fired)
    assert api.get(f"/work_queues/{queue['id']}").json()["is_paused"] is False


@pytest.mark.parametrize("source", ["selected", "inferred"])
def test_pause_and_resume_work_pool(api: ApiClient, source: str) -> None:
    pool = api.post("/work_pools/", {"name": f"pool-{source}"}).json()
    fired = event(f"prefect.work-pool.{pool['id']}")
    selected = {"work_pool_id": pool["id"]} if source == "selected" else {}
    run = _run({"type": "pause-work-pool", "source": source, **selected}, triggering_event=fired)
    assert api.get(f"/work_pools/{pool['name']}").json()["is_paused"] is True
    assert outcome(run).related == [
        {
            "prefect.resource.id": f"prefect.work-pool.{pool['id']}",
            "prefect.resource.role": "target",
            "prefect.resource.name": pool["name"],
        }
    ]
    _run({"type": "resume-work-pool", "source": source, **selected}, triggering_event=fired)
    assert api.get(f"/work_pools/{pool['name']}").json()["is_paused"] is False


def test_a_missing_work_pool_fails(api: ApiClient) -> None:
    missing = uuid.uuid4()
    run = _run({"type": "pause-work-pool", "source": "selected", "work_pool_id": str(missing)})
    assert run.last_error == f"Work pool {missing} not found"


@pytest.mark.parametrize("source", ["selected", "inferred"])
def test_pause_and_resume_automation(api: ApiClient, source: str) -> None:
    target = automation("the target")
    fired = event(f"prefect.automation.{target.id}")
    selected = {"automation_id": str(target.id)} if source == "selected" else {}
    _run({"type": "pause-automation", "source": source, **selected}, triggering_event=fired)
    target.refresh_from_db()
    assert target.enabled is False
    _run({"type": "resume-automation", "source": source, **selected}, triggering_event=fired)
    target.refresh_from_db()
    assert target.enabled is True


def test_an_unknown_action_type_fails_at_once(api: ApiClient) -> None:
    run = _run({"type": "launch-rockets"})
    assert (run.status, run.attempts, run.last_error) == ("failed", 1, "Unknown action type 'launch-rockets'")


def test_actions_never_reach_another_workspace(api: ApiClient, client: Any) -> None:
    """An action of workspace B naming A's deployment, flow run, queue, pool or
    automation finds nothing: each fails as for a missing object, A's records unchanged."""
    other = WorkspaceApi(client, "b", Workspace.objects.create(slug="b"))
    target = deployment(api)
    flow_run = make_flow_run(api, "RUNNING")
    queue = api.post("/work_queues/", {"name": "q"}).json()
    owner = automation("in A")
    fired = event(
        f"prefect.flow-run.{flow_run['id']}",
        (f"prefect.deployment.{target['id']}", "deployment"),
        (f"prefect.work-queue.{queue['id']}", "work-queue"),
        (f"prefect.automation.{owner.id}", "automation"),
    )
    workspace_b = other.workspace.id
    actions = [
        {"type": "pause-deployment", "source": "inferred"},
        {"type": "run-deployment", "source": "inferred"},
        {"type": "cancel-flow-run"},
        {"type": "pause-work-queue", "source": "inferred"},
        {"type": "pause-automation", "source": "inferred"},
    ]
    runs = [action_run(action, triggering_event=fired, workspace_id=workspace_b) for action in actions]
    assert run_due_actions() == len(actions)
    for run in runs:
        run.refresh_from_db()
        assert run.status == "failed"
        assert run.last_error.endswith("404"), run.last_error
    assert api.get(f"/deployments/{target['id']}").json()["paused"] is False
    assert api.get(f"/flow_runs/{flow_run['id']}").json()["state"]["type"] == "RUNNING"
    assert api.post("/flow_runs/count", {}).json() == 1
    assert api.get(f"/work_queues/{queue['id']}").json()["is_paused"] is False
    owner.refresh_from_db()
    assert owner.enabled is True
