"""The Django admin pages for the resources."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from orion_project.models import DEFAULT_WORKSPACE_ID
from tests.factories import FlowFactory


@pytest.fixture
def admin_client_logged_in(db: None, client: Client) -> Client:
    user = User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests")
    client.force_login(user)
    return client


def test_flow_changelist_lists_and_searches(admin_client_logged_in: Client) -> None:
    FlowFactory(name="etl-demo", tags=["demo", "nightly"])
    FlowFactory(name="other")
    response = admin_client_logged_in.get("/admin/flows_app/flow/?q=etl")
    assert response.status_code == 200
    page = response.content.decode()
    assert "etl-demo" in page
    assert "demo, nightly" in page
    assert "other" not in page


def test_flow_change_page_shows_read_only_ids(admin_client_logged_in: Client) -> None:
    flow = FlowFactory(name="etl-demo")
    response = admin_client_logged_in.get(f"/admin/flows_app/flow/{flow.pk}/change/")
    assert response.status_code == 200
    assert str(flow.id) in response.content.decode()


def test_admin_requires_login(client: Client, db: None) -> None:
    response = client.get("/admin/flows_app/flow/")
    assert response.status_code == 302


def test_flow_run_changelist_and_detail(admin_client_logged_in: Client) -> None:
    from tests.factories import FlowRunFactory, TaskRunFactory

    run = FlowRunFactory(name="nightly-run", state_type="RUNNING")
    TaskRunFactory(flow_run=run, name="extract")
    page = admin_client_logged_in.get("/admin/runs_app/flowrun/?state_type__exact=RUNNING").content.decode()
    assert "nightly-run" in page
    detail = admin_client_logged_in.get(f"/admin/runs_app/flowrun/{run.pk}/change/").content.decode()
    assert "extract" in detail
    by_id = admin_client_logged_in.get(f"/admin/runs_app/flowrun/?q={run.pk}").content.decode()
    assert "nightly-run" in by_id


def test_cancel_action_goes_through_orchestration(admin_client_logged_in: Client) -> None:
    from django.utils import timezone

    from runs_app.models import FlowRun
    from runs_app.orchestration.context import ProposedState
    from runs_app.services.runs import flow_run_set_state
    from tests.factories import FlowRunFactory

    running = FlowRunFactory()
    flow_run_set_state(
        flow_run_id=running.pk,
        workspace_id=DEFAULT_WORKSPACE_ID,
        state=ProposedState.make(type="RUNNING", timestamp=timezone.now()),
    )
    finished = FlowRunFactory()
    flow_run_set_state(
        flow_run_id=finished.pk,
        workspace_id=DEFAULT_WORKSPACE_ID,
        state=ProposedState.make(type="COMPLETED", timestamp=timezone.now()),
    )
    selected = {"action": "cancel_runs", "_selected_action": [str(running.pk), str(finished.pk)]}
    # The first post asks to confirm and changes nothing.
    asked = admin_client_logged_in.post("/admin/runs_app/flowrun/", selected)
    assert "Cancel flow runs: <strong>2</strong> flow runs selected" in asked.content.decode()
    assert FlowRun.objects.get(pk=running.pk).state_type == "RUNNING"
    response = admin_client_logged_in.post("/admin/runs_app/flowrun/", {**selected, "confirm": "yes"}, follow=True)
    assert "Cancel: 1 run(s) accepted; 1 refused by orchestration." in response.content.decode()
    assert FlowRun.objects.get(pk=running.pk).state_type == "CANCELLED"
    assert FlowRun.objects.get(pk=finished.pk).state_type == "COMPLETED"


def test_release_slots_action(admin_client_logged_in: Client) -> None:
    from runs_app.models import ConcurrencyLimit

    limit = ConcurrencyLimit.objects.create(
        tag="db", concurrency_limit=1, active_slots=["x"], workspace_id=DEFAULT_WORKSPACE_ID
    )
    admin_client_logged_in.post(
        "/admin/runs_app/concurrencylimit/", {"action": "release_slots", "_selected_action": [str(limit.pk)]}
    )
    limit.refresh_from_db()
    assert limit.active_slots == []


def test_log_admin_is_read_only(admin_client_logged_in: Client) -> None:
    assert admin_client_logged_in.get("/admin/runs_app/log/add/").status_code == 403


def test_deployment_admin_run_now_and_schedule_summary(admin_client_logged_in: Client) -> None:
    from flows_app.models import Deployment
    from runs_app.models import FlowRun
    from tests.factories import DeploymentFactory

    deployment = DeploymentFactory(name="nightly", schedule={"cron": "0 9 * * *", "timezone": "Europe/Paris"})
    page = admin_client_logged_in.get("/admin/flows_app/deployment/").content.decode()
    assert "cron 0 9 * * * (Europe/Paris)" in page
    response = admin_client_logged_in.post(
        "/admin/flows_app/deployment/", {"action": "run_now", "_selected_action": [str(deployment.pk)]}, follow=True
    )
    assert "Created 1 flow run(s)." in response.content.decode()
    assert FlowRun.objects.filter(deployment=Deployment.objects.get(pk=deployment.pk)).count() == 1


def test_work_queue_pause_action(admin_client_logged_in: Client) -> None:
    from flows_app.models import WorkQueue

    queue = WorkQueue.objects.get(name="default")
    admin_client_logged_in.post("/admin/flows_app/workqueue/", {"action": "pause", "_selected_action": [str(queue.pk)]})
    queue.refresh_from_db()
    assert queue.is_paused is True
    assert admin_client_logged_in.get("/admin/flows_app/workpool/").status_code == 200
    assert admin_client_logged_in.get("/admin/flows_app/savedsearch/").status_code == 200
    assert admin_client_logged_in.get("/admin/flows_app/flowrunnotificationpolicy/").status_code == 200
    assert admin_client_logged_in.get("/admin/blocks_app/blockdocument/").status_code == 200


def test_changelist_rows_carry_the_selection_box_django_would_render(admin_client_logged_in: Client) -> None:
    """``OrionModelAdmin.action_checkbox`` writes the box out instead of rendering the widget
    template per row; the markup (and so the actions' JavaScript) stays Django's."""
    from django import forms
    from django.contrib.admin import helpers

    flow = FlowFactory(name="boxed")
    page = admin_client_logged_in.get("/admin/flows_app/flow/").content.decode()
    django_box = forms.CheckboxInput(
        {"class": "action-select", "aria-label": f"Select this object for an action - {flow}"}, lambda value: False
    ).render(helpers.ACTION_CHECKBOX_NAME, str(flow.pk))
    assert django_box in page
    assert '<input type="checkbox" id="action-toggle"' in page
