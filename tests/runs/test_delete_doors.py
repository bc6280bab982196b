"""Every door that deletes runs goes through the one delete path (``services.flow_runs_delete``
/ ``task_runs_delete``), so none leaves a log, state, cache row, input or artifact behind.

Each door is used the way an operator or a client uses it (HTTP, the admin, a command) on
a run that has everything a run can have, next to a run that must survive untouched.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from runs_app.models import Artifact, ArtifactCollection, FlowRun, FlowRunInput, Log, TaskRun
from tests.helpers import ApiClient
from tests.runs.retention_helpers import NOW, dangling_rows, finished_run


@pytest.fixture
def admin(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("doors", "doors@example.com", "pw-for-tests"))
    return client


def complete_run(api: ApiClient, *, key: str, **fields: Any) -> dict[str, Any]:
    """A finished run with a task run, cache row, logs, an input and artifacts (one of
    them the latest of ``key``'s collection)."""
    run = finished_run(api, **fields)
    task = TaskRun.objects.filter(flow_run_id=run["id"]).get()
    for body in (
        {"key": key, "type": "markdown", "data": "flow", "flow_run_id": run["id"]},
        {"key": key, "type": "markdown", "data": "task", "flow_run_id": run["id"], "task_run_id": str(task.id)},
    ):
        assert api.post("/artifacts/", body).status_code == 201
    assert api.post(f"/flow_runs/{run['id']}/input", {"key": "answer", "value": '"42"'}).status_code == 201
    return run


def rows_of(run_id: str) -> dict[str, int]:
    task_ids = list(TaskRun.objects.filter(flow_run_id=run_id).values_list("pk", flat=True))
    return {
        "FlowRun": FlowRun.objects.filter(pk=run_id).count(),
        "TaskRun": len(task_ids),
        "Log": Log.objects.filter(flow_run_id=run_id).count(),
        "Artifact": Artifact.objects.filter(flow_run_id=run_id).count(),
        "FlowRunInput": FlowRunInput.objects.filter(flow_run_id=run_id).count(),
    }


def flow_of(run: dict[str, Any]) -> str:
    return str(run["flow_id"])


Door = Callable[[ApiClient, Client, dict[str, Any]], None]


def api_delete_flow_run(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    assert api.delete(f"/flow_runs/{run['id']}").status_code == 204


def api_delete_task_runs(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    # The task runs first (their own door), then what is left of the flow run.
    for task_id in TaskRun.objects.filter(flow_run_id=run["id"]).values_list("pk", flat=True):
        assert api.delete(f"/task_runs/{task_id}").status_code == 204
    assert dangling_rows() == {}
    assert api.delete(f"/flow_runs/{run['id']}").status_code == 204


def api_delete_flow(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    assert api.delete(f"/flows/{flow_of(run)}").status_code == 204


def api_bulk_delete(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    response = api.post("/flow_runs/bulk_delete", {"flow_runs": {"id": {"any_": [run["id"]]}}})
    assert response.json() == {"deleted": 1}


def api_prune(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    assert api.post("/flow_runs/prune", {"older_than": "30d"}).json()["flow_runs"] == 1


def command_prune(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    call_command("orion_prune", "--older-than", "30d", stdout=io.StringIO(), stderr=io.StringIO())


def command_runs_delete(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    name = api.get(f"/flows/{flow_of(run)}").json()["name"]
    call_command("orion_runs", "delete", "--flow", name, stdout=io.StringIO(), stderr=io.StringIO())


def admin_delete_flow_run(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    assert admin.post(f"/admin/runs_app/flowrun/{run['id']}/delete/", {"post": "yes"}).status_code == 302


def admin_delete_selected_flow_runs(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    body = {"action": "delete_runs", "_selected_action": [run["id"]], "confirm": "yes"}
    assert admin.post("/admin/runs_app/flowrun/", body).status_code == 302


def admin_delete_task_runs(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    for task_id in TaskRun.objects.filter(flow_run_id=run["id"]).values_list("pk", flat=True):
        admin.post(f"/admin/runs_app/taskrun/{task_id}/delete/", {"post": "yes"})
    assert not TaskRun.objects.filter(flow_run_id=run["id"]).exists()
    assert dangling_rows() == {}
    admin_delete_flow_run(api, admin, run)


def admin_delete_flow(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    assert admin.post(f"/admin/flows_app/flow/{flow_of(run)}/delete/", {"post": "yes"}).status_code == 302


def admin_delete_selected_flows(api: ApiClient, admin: Client, run: dict[str, Any]) -> None:
    body = {"action": "delete_selected", "_selected_action": [flow_of(run)], "post": "yes"}
    assert admin.post("/admin/flows_app/flow/", body).status_code == 302


DOORS: list[Door] = [
    api_delete_flow_run,
    api_delete_task_runs,
    api_delete_flow,
    api_bulk_delete,
    api_prune,
    command_prune,
    command_runs_delete,
    admin_delete_flow_run,
    admin_delete_selected_flow_runs,
    admin_delete_task_runs,
    admin_delete_flow,
    admin_delete_selected_flows,
]


@pytest.mark.parametrize("door", DOORS, ids=[door.__name__ for door in DOORS])
def test_every_door_deletes_a_run_with_everything_pointing_at_it(api: ApiClient, admin: Client, door: Door) -> None:
    doomed = complete_run(api, key="shared-key")
    # Recent, so retention keeps it; its artifact is the older one of the shared key.
    kept = complete_run(api, key="kept-key", ended=NOW)
    assert api.post("/artifacts/", {"key": "shared-key", "data": "kept", "flow_run_id": kept["id"]}).status_code == 201
    newest_doomed = api.post("/artifacts/", {"key": "shared-key", "data": "new", "flow_run_id": doomed["id"]})
    kept_rows = rows_of(kept["id"])
    assert rows_of(doomed["id"])["Artifact"] == 3

    door(api, admin, doomed)

    assert rows_of(doomed["id"]) == {"FlowRun": 0, "TaskRun": 0, "Log": 0, "Artifact": 0, "FlowRunInput": 0}
    assert rows_of(kept["id"]) == kept_rows
    assert dangling_rows() == {}
    # The shared key's collection now shows the kept run's artifact, the newest left.
    latest = api.get("/artifacts/shared-key/latest").json()
    assert latest["data"] == "kept" and latest["id"] != newest_doomed.json()["id"]
    assert set(ArtifactCollection.objects.values_list("latest_id", flat=True)) <= set(
        Artifact.objects.values_list("pk", flat=True)
    )


def test_deleting_a_deployment_deletes_its_scheduled_runs_with_their_rows(api: ApiClient) -> None:
    flow = api.post("/flows/", {"name": f"f-{uuid.uuid4().hex[:8]}"}).json()
    deployment = api.post("/deployments/", {"name": "d", "flow_id": flow["id"]}).json()
    body = {"flow_id": flow["id"], "deployment_id": deployment["id"], "state": {"type": "SCHEDULED"}}
    scheduled = api.post("/flow_runs/", body).json()
    line = {"name": "x", "level": 20, "message": "m", "timestamp": NOW.isoformat(), "flow_run_id": scheduled["id"]}
    assert api.post("/logs/", [line]).status_code == 201
    assert api.post("/artifacts/", {"key": "sched", "flow_run_id": scheduled["id"]}).status_code == 201

    assert api.delete(f"/deployments/{deployment['id']}").status_code == 204

    assert rows_of(scheduled["id"]) == {"FlowRun": 0, "TaskRun": 0, "Log": 0, "Artifact": 0, "FlowRunInput": 0}
    assert dangling_rows() == {}
    assert api.get("/artifacts/sched/latest").status_code == 404


def test_clearing_the_database_leaves_no_run_rows(api: ApiClient, settings: Any) -> None:
    settings.DEBUG = True  # clear answers 403 otherwise (no admin key here)
    complete_run(api, key="k")
    assert api.post("/admin/database/clear", {"confirm": True}).status_code == 204
    for model in (FlowRun, TaskRun, Log, Artifact, ArtifactCollection, FlowRunInput):
        assert not model.objects.exists(), model
