"""The events the server records when a flow run changes state, through the HTTP API.

The expected events were recorded from the 2.20 server (``PREFECT_EXPERIMENTAL_EVENTS=true``)
driven through the same steps with the same names and tags, then read back with
``POST /api/events/filter``; its ids are replaced here by the ones of this test's objects.
What they fix: the name ``prefect.flow-run.<state name>``; the run's labels (state name,
type, message and timestamp); the related flow, deployment, work queue, work pool and
parent task run (role and name, in that order), then the tags of all of them sorted;
the payload's ``intended`` and the two states; the event id being the state id and
``follows`` the previous state's event.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from events_app.models import Event, EventResource
from events_app.truncation import truncated
from orion_project.models import Workspace
from runs_app.events import STATE_MESSAGE_LIMIT
from tests.events.emitted_helpers import deploy, emitted, names, ok
from tests.helpers import ApiClient, WorkspaceApi

pytestmark = pytest.mark.django_db


def _related(kind: str, row: dict[str, Any]) -> dict[str, str]:
    return {
        "prefect.resource.id": f"prefect.{kind}.{row['id']}",
        "prefect.resource.role": kind,
        "prefect.resource.name": row["name"],
    }


def _tag(tag: str) -> dict[str, str]:
    return {"prefect.resource.id": f"prefect.tag.{tag}", "prefect.resource.role": "tag"}


def _states(api: ApiClient, run_id: str) -> list[dict[str, Any]]:
    return sorted(ok(api.get(f"/flow_run_states/?flow_run_id={run_id}")), key=lambda state: state["timestamp"])


def _expected(run: dict[str, Any], states: list[dict[str, Any]], related: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The events of the reference for a run that went through ``states``."""
    events = []
    previous: dict[str, Any] | None = None
    for state in states:
        message = state["message"] or ""
        validated = {"type": state["type"], "name": state["name"], **({"message": message} if message else {})}
        initial = None
        if previous is not None:
            initial = {"type": previous["type"], "name": previous["name"]}
            if previous["message"]:
                initial["message"] = previous["message"]
        events.append(
            {
                "event": f"prefect.flow-run.{state['name']}",
                "resource": {
                    "prefect.resource.id": f"prefect.flow-run.{run['id']}",
                    "prefect.resource.name": run["name"],
                    "prefect.state-message": message,
                    "prefect.state-name": state["name"],
                    "prefect.state-timestamp": state["timestamp"].replace("Z", "+00:00"),
                    "prefect.state-type": state["type"],
                },
                "related": related,
                "payload": {
                    "intended": {"from": previous["type"] if previous else None, "to": state["type"]},
                    "initial_state": initial,
                    "validated_state": validated,
                },
                "id": state["id"],
                "follows": previous["id"] if previous else None,
            }
        )
        previous = state
    return events


def _without_occurred(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in event.items() if key != "occurred"} for event in events]


@pytest.fixture
def deployed(api: ApiClient) -> dict[str, Any]:
    return deploy(api)


def test_a_deployment_run_emits_each_state_it_enters(api: ApiClient, deployed: dict[str, Any]) -> None:
    # The 2.20 client sends the SCHEDULED state (a run created without one starts PENDING here,
    # as in 2.7.12).
    body = {"tags": ["rt"], "state": {"type": "SCHEDULED"}}
    run = ok(api.post(f"/deployments/{deployed['deployment']['id']}/create_flow_run", body))
    ok(api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "PENDING"}}))
    ok(api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING", "message": "go"}}))
    ok(api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "FAILED", "message": "boom"}}))

    related = [
        _related("flow", deployed["flow"]),
        _related("deployment", deployed["deployment"]),
        _related("work-queue", deployed["queue"]),
        _related("work-pool", deployed["pool"]),
        _tag("dt"),
        _tag("ft"),
        _tag("rt"),
    ]
    events = emitted("prefect.flow-run.")
    assert names(events) == [
        "prefect.flow-run.Scheduled",
        "prefect.flow-run.Pending",
        "prefect.flow-run.Running",
        "prefect.flow-run.Failed",
    ]
    states = _states(api, run["id"])
    assert _without_occurred(events) == _expected(run, states, related)
    assert [event["occurred"].isoformat() for event in events] == [
        state["timestamp"].replace("Z", "+00:00") for state in states
    ]


def test_a_sub_flow_run_names_its_parent_task_run_and_the_mirrored_task_run_emits_nothing(api: ApiClient) -> None:
    flow = ok(api.post("/flows/", {"name": "child-flow"}))
    parent = ok(api.post("/flow_runs/", {"flow_id": flow["id"], "state": {"type": "RUNNING"}, "tags": ["alpha"]}))
    body = {"flow_run_id": parent["id"], "task_key": "child", "dynamic_key": "0", "tags": ["beta"]}
    task = ok(api.post("/task_runs/", {**body, "state": {"type": "RUNNING"}}))
    child = ok(
        api.post(
            "/flow_runs/",
            {"flow_id": flow["id"], "parent_task_run_id": task["id"], "tags": ["alpha"], "state": {"type": "PENDING"}},
        )
    )
    ok(api.post(f"/flow_runs/{child['id']}/set_state", {"state": {"type": "RUNNING"}}))
    ok(api.post(f"/task_runs/{task['id']}/set_state", {"state": {"type": "COMPLETED"}}))

    related = [_related("flow", flow), _related("task-run", task), _tag("alpha"), _tag("beta")]
    child_events = [event for event in emitted() if event["resource"]["prefect.resource.id"].endswith(child["id"])]
    assert _without_occurred(child_events) == _expected(child, _states(api, child["id"]), related)
    # Only flow runs: the 2.20 client reports its task runs' states itself.
    assert names(emitted()) == [
        "prefect.flow-run.Running",
        "prefect.flow-run.Pending",
        "prefect.flow-run.Running",
    ]


def test_a_pause_says_whether_it_reschedules(api: ApiClient, deployed: dict[str, Any]) -> None:
    body = {"state": {"type": "RUNNING"}}
    run = ok(api.post(f"/deployments/{deployed['deployment']['id']}/create_flow_run", body))
    paused = {"type": "PAUSED", "name": "Suspended", "state_details": {"pause_reschedule": True, "pause_key": "k"}}
    ok(api.post(f"/flow_runs/{run['id']}/set_state", {"state": paused}))
    [_, event] = emitted("prefect.flow-run.")
    assert event["event"] == "prefect.flow-run.Suspended"
    assert event["payload"]["validated_state"] == {"type": "PAUSED", "name": "Suspended", "pause_reschedule": "true"}


def test_a_long_message_is_cut_in_the_middle(api: ApiClient) -> None:
    flow = ok(api.post("/flows/", {"name": "chatty"}))
    message = "a" * 60_000 + "b" * 60_000
    ok(api.post("/flow_runs/", {"flow_id": flow["id"], "state": {"type": "RUNNING", "message": message}}))
    [event] = emitted()
    cut = "a" * 50_000 + "...20000 additional characters..." + "b" * 50_000
    assert event["resource"]["prefect.state-message"] == cut
    assert event["payload"]["validated_state"]["message"] == cut


def test_the_event_names_its_resources_for_the_related_filters(api: ApiClient, deployed: dict[str, Any]) -> None:
    run = ok(api.post(f"/deployments/{deployed['deployment']['id']}/create_flow_run", {}))
    [event] = Event.objects.filter(event__startswith="prefect.flow-run.")
    assert sorted(EventResource.objects.filter(event_seq=event.seq).values_list("role", "resource_id")) == sorted(
        [
            ("", f"prefect.flow-run.{run['id']}"),
            ("flow", f"prefect.flow.{deployed['flow']['id']}"),
            ("deployment", f"prefect.deployment.{deployed['deployment']['id']}"),
            ("work-queue", f"prefect.work-queue.{deployed['queue']['id']}"),
            ("work-pool", f"prefect.work-pool.{deployed['pool']['id']}"),
            ("tag", "prefect.tag.dt"),
            ("tag", "prefect.tag.ft"),
        ]
    )
    if connection.vendor == "postgresql":
        assert event.txid is not None


def test_a_refused_or_failed_transition_emits_nothing(api: ApiClient) -> None:
    flow = ok(api.post("/flows/", {"name": "refused"}))
    run = ok(api.post("/flow_runs/", {"flow_id": flow["id"], "state": {"type": "COMPLETED"}}))
    before = names(emitted())
    # Aborted by the policy: a finished run does not go back to PENDING.
    answer = ok(api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "PENDING"}}))
    assert answer["status"] == "ABORT"
    # A body that fails validation writes nothing.
    bad = api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "NOPE"}})
    assert bad.status_code == 422
    assert names(emitted()) == before == ["prefect.flow-run.Completed"]


def test_the_operator_can_turn_server_events_off(api: ApiClient, settings: Any) -> None:
    settings.ORION_EVENTS_EMIT = False
    flow = ok(api.post("/flows/", {"name": "quiet"}))
    ok(api.post("/flow_runs/", {"flow_id": flow["id"], "state": {"type": "RUNNING"}}))
    assert emitted() == []


def test_events_land_in_the_run_s_workspace(db: None, client: Client) -> None:
    workspaces = [Workspace.objects.create(slug=slug) for slug in ("a", "b")]
    for workspace in workspaces:
        api = WorkspaceApi(client, workspace.slug, workspace)
        flow = ok(api.post("/flows/", {"name": "same-name"}))
        ok(api.post("/flow_runs/", {"flow_id": flow["id"], "state": {"type": "RUNNING"}}))
    for workspace in workspaces:
        [event] = emitted(workspace_id=workspace.pk)
        run_id = event["resource"]["prefect.resource.id"].removeprefix("prefect.flow-run.")
        answer = WorkspaceApi(client, workspace.slug, workspace).get(f"/flow_runs/{run_id}")
        assert answer.status_code == 200


@pytest.mark.parametrize(
    "message",
    [
        "",
        "still going",
        "é" * 100_000,  # at the limit: kept whole (characters, not bytes)
        "x" * 100_001,  # over it, but the cut would be longer: kept whole
        "é" * 60_000 + "b" * 40_040,  # cut in its middle
    ],
    ids=["empty", "short", "at-limit", "cut-longer", "cut"],
)
def test_the_state_left_is_quoted_with_its_message(api: ApiClient, message: str) -> None:
    """Out of RUNNING the engine does not read the state row (the run's columns give it):
    the message of the state left, which the event quotes, is read by the event's own
    statement on PostgreSQL, and cut as every event message is."""
    flow = ok(api.post("/flows/", {"name": "quoted"}))
    run = ok(api.post("/flow_runs/", {"flow_id": flow["id"], "state": {"type": "RUNNING", "message": message}}))
    ok(api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "COMPLETED"}}))
    running, completed = emitted("prefect.flow-run.")
    cut = truncated(message, STATE_MESSAGE_LIMIT)
    assert running["payload"]["validated_state"] == {
        "type": "RUNNING",
        "name": "Running",
        **({"message": cut} if cut else {}),
    }
    assert completed["payload"] == {
        "intended": {"from": "RUNNING", "to": "COMPLETED"},
        "initial_state": running["payload"]["validated_state"],
        "validated_state": {"type": "COMPLETED", "name": "Completed"},
    }
    assert completed["follows"] == running["id"]
