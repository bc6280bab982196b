"""The actions service's guarantees: each action runs once however many replicas race
for it, a passing failure is retried with backoff and a bound, and every outcome is
recorded as the ``prefect.automation.action.*`` events."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from automations_app.actions import run_due_actions
from automations_app.models import ActionRun
from orion_project.registry import Service
from orion_project.service_loop import run_once
from tests.automations.actions_helpers import (
    action_events,
    action_run,
    block_document,
    deployment,
    event,
    outcome,
    overdue,
    recording_server,
)
from tests.helpers import ApiClient, in_parallel

RESOURCE = "prefect.resource.id"


@pytest.mark.django_db
def test_an_outcome_is_recorded_as_triggered_then_executed(api: ApiClient) -> None:
    target = deployment(api)
    fired = event(f"prefect.flow-run.{uuid.uuid4()}", (f"prefect.deployment.{target['id']}", "deployment"))
    run = action_run({"type": "pause-deployment", "source": "inferred"}, triggering_event=fired, index=2)
    assert run_due_actions() == 1
    triggered, executed = action_events()
    owner_id = run.firing["automation"]["id"]
    resource = {
        RESOURCE: f"prefect.automation.{owner_id}",
        "prefect.resource.name": "when it fires",
        "prefect.trigger-type": "event",
        "prefect.posture": "Reactive",
    }
    target_resource = [{RESOURCE: f"prefect.deployment.{target['id']}", "prefect.resource.role": "target"}]
    details = {"action_index": 2, "action_type": "pause-deployment", "invocation": str(run.id)}
    assert (triggered.event, triggered.resource, triggered.related) == (
        "prefect.automation.action.triggered",
        resource,
        target_resource,
    )
    assert triggered.payload == details
    assert triggered.occurred == dt.datetime.fromisoformat(run.firing["triggered"])
    assert str(triggered.follows) == fired["id"]
    assert (executed.event, executed.resource, executed.related) == (
        "prefect.automation.action.executed",
        resource,
        target_resource,
    )
    assert executed.payload == {**details, "status_code": 200}
    assert executed.follows == triggered.uuid


@pytest.mark.django_db
def test_a_pass_drains_a_burst_of_firings_within_its_time_and_leaves_the_rest_to_the_next(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = deployment(api)
    action = {"type": "pause-deployment", "deployment_id": target["id"], "source": "selected"}
    owner = action_run(action).automation
    for _ in range(149):
        action_run(action, owner=owner)
    monkeypatch.setattr("automations_app.actions.runner._PASS_SECONDS", 0)
    assert run_due_actions() == 1  # its second is up after the first action
    monkeypatch.setattr("automations_app.actions.runner._PASS_SECONDS", 600)
    assert run_due_actions() == 149  # more than a fixed batch of 100: every due one
    assert not ActionRun.objects.filter(status=ActionRun.Status.PENDING).exists()


@pytest.mark.django_db
def test_a_failure_is_recorded_with_its_reason(api: ApiClient) -> None:
    run = action_run({"type": "pause-work-queue", "source": "inferred"})
    run_due_actions()
    triggered, failed = action_events()
    assert triggered.event == "prefect.automation.action.triggered"
    assert failed.event == "prefect.automation.action.failed"
    assert failed.payload == {
        "action_index": 0,
        "action_type": "pause-work-queue",
        "invocation": str(run.id),
        "reason": "No event to infer the work queue",
    }


@pytest.mark.django_db
def test_a_passing_failure_is_retried_with_backoff_then_fails(api: ApiClient, settings: Any) -> None:
    settings.ORION_ACTIONS_MAX_ATTEMPTS = 3
    settings.ORION_ACTIONS_RETRY_SECONDS = 10
    with recording_server() as server:
        notifier = block_document(
            api, "custom-webhook", {"name": "n", "url": server.url("/status/503")}, capabilities=["notify"]
        )
        run = action_run({"type": "send-notification", "block_document_id": notifier["id"], "body": "b"})
        before = timezone.now()
        assert run_due_actions() == 1
        run.refresh_from_db()
        assert (run.status, run.attempts, run.last_error) == ("pending", 1, "Notification failed")
        assert before + dt.timedelta(seconds=10) <= run.next_attempt_at <= timezone.now() + dt.timedelta(seconds=10)
        assert action_events() == []
        assert run_due_actions() == 0  # not due before its backoff ends
        assert run_due_actions(now=overdue()) == 1
        run.refresh_from_db()
        assert (run.status, run.attempts) == ("pending", 2)
        assert run.next_attempt_at >= timezone.now() + dt.timedelta(seconds=19)
        assert run_due_actions(now=overdue()) == 1
        run.refresh_from_db()
        assert (run.status, run.attempts) == ("failed", 3)
        assert len(server.requests) == 3
    failed = outcome(run)
    assert failed.payload["reason"] == "Notification failed"
    assert failed.payload["notification_log"].startswith("HTTP 503")
    assert [item.event for item in action_events()] == [
        "prefect.automation.action.triggered",
        "prefect.automation.action.failed",
    ]


@pytest.mark.django_db
def test_a_retried_action_can_still_succeed(api: ApiClient) -> None:
    with recording_server() as server:
        data = {"name": "n", "url": server.url("/status/500")}
        notifier = block_document(api, "custom-webhook", data, capabilities=["notify"])
        run = action_run({"type": "send-notification", "block_document_id": notifier["id"], "body": "b"})
        run_due_actions()
        api.patch(f"/block_documents/{notifier['id']}", {"data": {**data, "url": server.url("/ok")}})
        run_due_actions(now=overdue())
        run.refresh_from_db()
    assert (run.status, run.attempts, run.last_error) == ("done", 2, "")
    assert outcome(run).event == "prefect.automation.action.executed"


@pytest.mark.django_db
def test_an_action_that_cannot_succeed_is_not_retried(api: ApiClient) -> None:
    run = action_run({"type": "pause-deployment", "source": "selected", "deployment_id": str(uuid.uuid4())})
    run_due_actions()
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("failed", 1)


@pytest.mark.django_db(transaction=True)
def test_racing_runners_run_each_action_exactly_once() -> None:
    """Four runners (as four service replicas' passes) race over the same due actions:
    every action runs once, one flow run per run-deployment action, one outcome each."""
    api = ApiClient(Client())
    target = deployment(api)
    runs = [
        action_run(
            {"type": "run-deployment", "source": "selected", "deployment_id": target["id"]}
            if index % 2
            else {"type": "do-nothing"},
            index=index,
        )
        for index in range(24)
    ]
    service = Service("actions", lambda: run_due_actions(limit=3), 0)

    def runner(client: Client) -> None:
        while ActionRun.objects.filter(status=ActionRun.Status.PENDING).exists():
            run_once(service)

    in_parallel(runner, count=4)
    statuses = list(ActionRun.objects.values_list("status", "attempts"))
    assert statuses == [("done", 1)] * len(runs)
    assert api.post("/flow_runs/count", {}).json() == 12
    outcomes: dict[str, Any] = {}
    for item in action_events():
        if not item.event.endswith(".triggered"):
            outcomes.setdefault(item.payload["invocation"], []).append(item.event)
    assert outcomes == {str(run.id): ["prefect.automation.action.executed"] for run in runs}
