"""The actions' Jinja templates and outbound calls: what the reference renders for the
same firing (recorded from the live 2.20 server), its failure text for a template that
fails, the sandbox, run-deployment parameters, webhook and notification blocks called on
a local HTTP server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from automations_app.actions import run_due_actions
from automations_app.models import ActionRun
from orion_project.models import Workspace
from tests.automations.actions_helpers import (
    Recorder,
    action_run,
    block_document,
    deployment,
    event,
    outcome,
    recording_server,
)
from tests.helpers import ApiClient, WorkspaceApi

pytestmark = pytest.mark.django_db

FAILED_DIVISION = (
    "Failed to render template due to the following error: ZeroDivisionError('division by zero')\nTemplate source:\n"
)


@pytest.fixture
def server() -> Iterator[Recorder]:
    with recording_server() as recorder:
        yield recorder


@pytest.fixture
def fired(api: ApiClient) -> dict[str, Any]:
    """A deployment's running flow run and an event about it, as in the reference run."""
    target = deployment(api, parameters={"a": 1})
    flow_run = api.post(f"/deployments/{target['id']}/create_flow_run", {"state": {"type": "RUNNING"}}).json()
    state_labels = {
        "prefect.resource.name": flow_run["name"],
        "prefect.state-type": "RUNNING",
        "prefect.state-name": "Running",
        "prefect.state-message": "hi",
        "prefect.state-timestamp": "2024-01-02T03:04:05+00:00",
    }
    the_event = event(
        f"prefect.flow-run.{flow_run['id']}",
        (f"prefect.deployment.{target['id']}", "deployment"),
        (f"prefect.flow.{target['flow_id']}", "flow"),
        **state_labels,
    )
    the_event["related"][0]["prefect.resource.name"] = "d"
    return {"event": the_event, "flow_run": flow_run, "deployment": target}


def _run(action: dict[str, Any], **kwargs: Any) -> ActionRun:
    run = action_run(action, **kwargs)
    assert run_due_actions() == 1
    run.refresh_from_db()
    return run


def _webhook(api: ApiClient, server: Recorder, **data: Any) -> dict[str, Any]:
    values = {"method": "POST", "url": server.url("/hook"), "headers": {"X-Custom": "h1"}, **data}
    return block_document(api, "webhook", values, capabilities=[])


def test_a_webhook_payload_renders_what_the_reference_renders(
    api: ApiClient, server: Recorder, fired: dict[str, Any]
) -> None:
    flow_run, target, the_event = fired["flow_run"], fired["deployment"], fired["event"]
    template = (
        "RID={{ event.resource.id }}|FR={{ flow_run.name }}|ST={{ flow_run.state.type }}|SN={{ flow_run.state.name }}"
        "|TS={{ flow_run.state.timestamp }}|S={{ flow_run.state }}|D={{ deployment.name }}|L={{ labels }}"
        "|URL={{ flow_run|ui_url }}|NO={{ nothing.here }}|P={{ flow_run.parameters }}|ID={{ flow_run.id }}"
        "|REL={% for r in event.related %}{{ r.role }}:{{ r.name }},{% endfor %}|PAY={{ event.payload }}"
        "|TAGS={{ flow_run.tags }}|EV={{ events|length }}|FI={{ firings|length }}|RURL={{ event.resource|ui_url }}"
        "|AURL={{ automation|ui_url }}|EURL={{ flow_run|ui_resource_events_url }}|A={{ automation.name }}"
        "|FOR={% for label, value in event.resource %}{{ label }}{% endfor %}|F={{ flow.id }}"
    )
    hook = _webhook(api, server)
    run = _run(
        {"type": "call-webhook", "block_document_id": hook["id"], "payload": template}, triggering_event=the_event
    )
    assert run.status == "done", run.last_error
    [request] = server.requests
    assert request["headers"]["X-Custom"] == "h1"
    assert request["headers"]["Content-Type"] == "application/json"
    automation_id = run.firing["automation"]["id"]
    assert json.loads(request["body"]) == (
        f"RID=prefect.flow-run.{flow_run['id']}|FR={flow_run['name']}|ST=StateType.RUNNING|SN=Running"
        "|TS=2024-01-02T03:04:05+00:00|S=Running('hi')|D=d|L=|URL=None|NO=|P={'a': 1}"
        f"|ID={flow_run['id']}|REL=deployment:d,flow:None,|PAY={{'k': 'v'}}|TAGS=[]|EV=1|FI=1"
        f"|RURL=flow-runs/flow-run/{flow_run['id']}|AURL=/automations/automation/{automation_id}|EURL=None"
        f"|A=when it fires|FOR=__root__|F={target['flow_id']}"
    )
    executed = outcome(run)
    assert executed.payload["status_code"] == 200
    assert executed.payload["response_body"] == '{"ok": true}'
    headers = executed.payload["response_headers"]
    assert headers["x-answer"] == "yes"
    assert "authorization" not in headers
    assert executed.related == [
        {
            "prefect.resource.id": f"prefect.block-document.{hook['id']}",
            "prefect.resource.role": "block",
            "prefect.resource.name": hook["name"],
        },
        {"prefect.resource.id": "prefect.block-type.webhook", "prefect.resource.role": "block-type"},
    ]


def test_a_webhook_answering_an_error_is_still_executed(api: ApiClient, server: Recorder) -> None:
    hook = _webhook(api, server, url=server.url("/status/500"))
    run = _run({"type": "call-webhook", "block_document_id": hook["id"], "payload": "x"})
    assert run.status == "done"
    assert outcome(run).payload["status_code"] == 500


def test_a_template_that_fails_renders_the_reference_failure_text(
    api: ApiClient, server: Recorder, fired: dict[str, Any]
) -> None:
    hook = _webhook(api, server)
    payloads = ["Body {{ 1 / 0 }}", "{{ flow_run.__class__ }}|{{ automation.clear() }}", "{{ range(1000) }}"]
    for payload in payloads:
        _run(
            {"type": "call-webhook", "block_document_id": hook["id"], "payload": payload},
            triggering_event=fired["event"],
        )
    division, sandboxed, capped = (json.loads(request["body"]) for request in server.requests)
    assert division == FAILED_DIVISION + "Body {{ 1 / 0 }}"
    assert sandboxed.startswith("Failed to render template due to the following error: SecurityError(")
    assert capped.startswith("Failed to render template due to the following error: OverflowError('Range too big.")


def test_a_block_of_another_type_is_not_a_webhook(api: ApiClient, server: Recorder) -> None:
    other = block_document(api, "custom-webhook", {"name": "n", "url": server.url("/c")}, capabilities=["notify"])
    run = _run({"type": "call-webhook", "block_document_id": other["id"], "payload": "x"})
    assert run.last_error == "The referenced block was not a webhook block"
    assert outcome(run).related == []
    missing = _run({"type": "call-webhook", "block_document_id": str(uuid.uuid4()), "payload": "x"})
    assert missing.last_error == "Unexpected status from call-webhook action: 404"


def test_a_private_url_is_refused_when_the_block_says_so(api: ApiClient, server: Recorder) -> None:
    hook = _webhook(api, server, allow_private_urls=False)
    run = _run({"type": "call-webhook", "block_document_id": hook["id"], "payload": "x"})
    assert run.status == "failed"
    assert run.last_error.startswith("Webhook call failed: ValueError(")
    assert server.requests == []


def test_a_custom_webhook_notification(api: ApiClient, server: Recorder, fired: dict[str, Any]) -> None:
    data = {
        "name": "mine",
        "url": server.url("/custom"),
        "method": "POST",
        "json_data": {"text": "{{subject}}|{{body}}|{{name}}|{{tok}}"},
        "params": {"q": "{{name}}"},
        "secrets": {"tok": "S3"},
        "headers": {"X-H": "{{tok}}"},
    }
    notifier = block_document(api, "custom-webhook", data, capabilities=["notify"])
    action = {
        "type": "send-notification",
        "block_document_id": notifier["id"],
        "subject": "Subj {{ flow_run.name }}",
        "body": "Body {{ 1 / 0 }}",
    }
    run = _run(action, triggering_event=fired["event"])
    assert run.status == "done", run.last_error
    [request] = server.requests
    assert request["path"] == "/custom?q=mine"
    assert (request["headers"]["X-H"], request["headers"]["User-Agent"]) == ("S3", "Prefect Notifications")
    body = f"{FAILED_DIVISION}Body {{{{ 1 / 0 }}}}"
    assert json.loads(request["body"]) == {"text": f"Subj {fired['flow_run']['name']}|{body}|mine|S3"}
    assert outcome(run).payload == {"action_index": 0, "action_type": "send-notification", "invocation": str(run.id)}


def test_slack_and_teams_notifications(api: ApiClient, server: Recorder) -> None:
    slack = block_document(api, "slack-webhook", {"url": server.url("/slack")}, capabilities=["notify"])
    teams = block_document(api, "ms-teams-webhook", {"url": server.url("/teams")}, capabilities=["notify"])
    for notifier in (slack, teams):
        action = {"type": "send-notification", "block_document_id": notifier["id"], "subject": "S", "body": "B"}
        assert _run(action).status == "done"
    slack_message, teams_message = (json.loads(request["body"]) for request in server.requests)
    assert slack_message["attachments"][0]["title"] == "S"
    assert slack_message["attachments"][0]["text"] == "B"
    card = teams_message["attachments"][0]["content"]
    assert [block["text"] for block in card["body"]] == ["S", "B"]


def test_blocks_that_cannot_notify_from_here(api: ApiClient) -> None:
    plain = block_document(api, "webhook", {"url": "http://127.0.0.1:9/"}, capabilities=[])
    run = _run({"type": "send-notification", "block_document_id": plain["id"], "body": "b"})
    assert run.last_error == "The referenced block was not a notification block"
    sms = block_document(api, "twilio-sms", {"account_sid": "x"}, capabilities=["notify"])
    run = _run({"type": "send-notification", "block_document_id": sms["id"], "body": "b"})
    assert run.last_error == "Notification failed"
    assert "twilio-sms" in outcome(run).payload["notification_log"]


def test_run_deployment_parameters_are_hydrated(api: ApiClient, fired: dict[str, Any]) -> None:
    api.post("/variables/", {"name": "region", "value": "eu"})
    parameters = {
        "x": "{{ flow_run.name }}",
        "y": {"__prefect_kind": "jinja", "template": "{{ event.event }}"},
        "z": ["{{ event.id }}", 3],
        "n": 5,
        "j": {"__prefect_kind": "json", "value": '{"k": 1}'},
        "v": {"__prefect_kind": "workspace_variable", "variable_name": "region"},
        "gone": {"__prefect_kind": "json"},
        "w": {"__prefect_kind": "none", "value": {"inner": "{{ deployment.name }}"}},
    }
    target = fired["deployment"]
    action = {"type": "run-deployment", "source": "inferred", "parameters": parameters}
    run = _run(action, triggering_event=fired["event"])
    assert run.status == "done", run.last_error
    created = api.get(f"/flow_runs/{outcome(run).related[1]['prefect.resource.id'].rpartition('.')[2]}").json()
    assert created["deployment_id"] == target["id"]
    assert created["parameters"] == {
        "a": 1,
        "x": fired["flow_run"]["name"],
        "y": "test.fire",
        "z": [fired["event"]["id"], 3],
        "n": 5,
        "j": {"k": 1},
        "v": "eu",
        # A placeholder's value is not upgraded to a template (as in the reference).
        "w": {"inner": "{{ deployment.name }}"},
    }


def test_run_deployment_fails_on_a_missing_variable(api: ApiClient, fired: dict[str, Any]) -> None:
    parameters = {"v": {"__prefect_kind": "workspace_variable", "variable_name": "missing_var"}}
    action = {"type": "run-deployment", "source": "inferred", "parameters": parameters}
    run = _run(action, triggering_event=fired["event"])
    assert run.last_error == "Unable to create flow run from deployment: WorkspaceVariableNotFound()"
    assert api.post("/flow_runs/count", {}).json() == 1


def test_templates_read_only_the_actions_workspace(
    api: ApiClient, client: Any, server: Recorder, fired: dict[str, Any]
) -> None:
    """An action of workspace B whose event names A's flow run, deployment and flow
    renders them as nothing: objects are read in the action's workspace only."""
    other = WorkspaceApi(client, "b", Workspace.objects.create(slug="b"))
    hook = _webhook(other, server)
    template = "[{{ flow_run.name }}|{{ deployment.name }}|{{ flow.name }}]"
    run = action_run(
        {"type": "call-webhook", "block_document_id": hook["id"], "payload": template},
        triggering_event=fired["event"],
        workspace_id=other.workspace.id,
    )
    run_due_actions()
    run.refresh_from_db()
    assert run.status == "done", run.last_error
    assert [json.loads(request["body"]) for request in server.requests] == ["[||]"]
