"""Deployment routes (reference §G.3, examples #31-#37 and #51, 2.20 additions)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flows_app.models import DeploymentSchedule
from runs_app.models import FlowRun
from tests.factories import FlowFactory
from tests.helpers import ApiClient

INTERVAL = {"interval": 3600, "anchor_date": "2026-01-01T00:00:00+00:00"}


def make_deployment(api: ApiClient, **fields: Any) -> dict[str, Any]:
    flow_id = fields.pop("flow_id", None) or str(FlowFactory(name=f"flow-{uuid.uuid4().hex[:6]}").id)
    body = {"name": "nightly", "flow_id": flow_id, **fields}
    response = api.post("/deployments/", body)
    assert response.status_code in (200, 201), response.content
    return response.json()  # type: ignore[no-any-return]


def test_create_then_upsert_resets_omitted_fields(api: ApiClient) -> None:
    # reference examples #31-#32
    first = make_deployment(
        api, work_queue_name="wq-a", parameters={"x": 5}, tags=["dep"], schedule=INTERVAL, is_schedule_active=False
    )
    assert first["schedule"] == {"interval": 3600.0, "anchor_date": "2026-01-01T00:00:00+00:00", "timezone": "UTC"}
    assert (first["work_pool_name"], first["work_queue_name"]) == ("default-agent-pool", "wq-a")
    assert api.get("/work_queues/name/wq-a").status_code == 200  # created for the deployment
    again = api.post(
        "/deployments/",
        {
            "name": "nightly",
            "flow_id": first["flow_id"],
            "work_queue_name": "wq-a",
            "parameters": {"x": 6},
            "is_schedule_active": False,
        },
    )
    assert again.status_code == 200
    updated = again.json()
    assert (updated["id"], updated["created"]) == (first["id"], first["created"])
    assert (updated["schedule"], updated["tags"], updated["parameters"]) == (None, [], {"x": 6})


def test_read_update_delete(api: ApiClient) -> None:
    deployment = make_deployment(api)
    assert api.get(f"/deployments/{deployment['id']}").json()["name"] == "nightly"
    flow_name = api.get(f"/flows/{deployment['flow_id']}").json()["name"]
    assert api.get(f"/deployments/name/{flow_name}/nightly").json()["id"] == deployment["id"]
    assert api.get(f"/deployments/name/{flow_name}/other").json() == {"detail": "Deployment not found"}
    assert api.patch(f"/deployments/{deployment['id']}", {"description": "d", "tags": ["t"]}).status_code == 204
    after = api.get(f"/deployments/{deployment['id']}").json()
    assert (after["description"], after["tags"]) == ("d", ["t"])
    assert api.patch(f"/deployments/{deployment['id']}", {"name": "renamed"}).status_code == 422
    assert api.delete(f"/deployments/{deployment['id']}").status_code == 204
    assert api.delete(f"/deployments/{deployment['id']}").status_code == 404


def test_create_flow_run_merges_parameters_and_tags(api: ApiClient) -> None:
    # reference example #33
    deployment = make_deployment(api, work_queue_name="wq-a", parameters={"x": 5, "y": 0}, tags=["dep"])
    response = api.post(
        f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"y": 1}, "tags": ["manual"]}
    )
    assert response.status_code == 201
    run = response.json()
    assert run["parameters"] == {"x": 5, "y": 1}
    assert sorted(run["tags"]) == ["dep", "manual"]
    assert (run["deployment_id"], run["work_queue_name"], run["state_type"]) == (deployment["id"], "wq-a", "PENDING")
    assert run["work_pool_name"] == "default-agent-pool"
    queue = api.get("/work_queues/name/wq-a").json()
    assert run["work_queue_id"] == queue["id"]
    assert api.post(f"/deployments/{uuid.uuid4()}/create_flow_run", {}).status_code == 404


def test_schedule_route_creates_runs_once(api: ApiClient) -> None:
    deployment = make_deployment(api, schedule=INTERVAL, tags=["dep"])
    assert api.post(f"/deployments/{deployment['id']}/schedule", {"max_runs": 5}).json() is None
    runs = FlowRun.objects.filter(deployment_id=deployment["id"])
    assert runs.count() == 3  # min_runs 3 reach past start + min_time (1 h)
    assert set(runs.values_list("state_name", flat=True)) == {"Scheduled"}
    assert all(run.auto_scheduled and run.tags[:2] == ["auto-scheduled", "dep"] for run in runs)
    api.post(f"/deployments/{deployment['id']}/schedule", {"max_runs": 5})
    assert runs.count() == 3  # idempotency keys prevent duplicates


def test_inactive_schedule_creates_nothing_and_inactivation_cleans_up(api: ApiClient) -> None:
    # reference examples #34-#36 and #51
    deployment = make_deployment(api, schedule=INTERVAL, is_schedule_active=False)
    api.post(f"/deployments/{deployment['id']}/schedule", {})
    assert FlowRun.objects.filter(deployment_id=deployment["id"]).count() == 0
    assert api.post(f"/deployments/{deployment['id']}/set_schedule_active").json() is None
    api.post(f"/deployments/{deployment['id']}/schedule", {})
    assert FlowRun.objects.filter(deployment_id=deployment["id"]).count() == 3
    assert api.post(f"/deployments/{deployment['id']}/set_schedule_inactive").status_code == 200
    assert FlowRun.objects.filter(deployment_id=deployment["id"]).count() == 0
    assert api.post(f"/deployments/{uuid.uuid4()}/set_schedule_active").status_code == 404


def test_filter_and_count(api: ApiClient, django_assert_max_num_queries: Any) -> None:
    make_deployment(api, name="a-dep", tags=["x"])
    make_deployment(api, name="b-dep", work_queue_name="q1")
    # deployments with queue and pool joined, plus one prefetch of their schedules
    with django_assert_max_num_queries(2):
        names = [d["name"] for d in api.post("/deployments/filter", {"sort": "NAME_DESC"}).json()]
    assert names == ["b-dep", "a-dep"]
    assert api.post("/deployments/count", {"deployments": {"tags": {"all_": ["x"]}}}).json() == 1
    assert api.post("/deployments/count", {"work_pool_queues": {"name": {"any_": ["q1"]}}}).json() == 1


def test_work_pool_deployments_and_2_20_fields(api: ApiClient) -> None:
    api.post("/work_pools/", {"name": "probe-pool", "type": "process"})
    deployment = make_deployment(
        api,
        work_pool_name="probe-pool",
        job_variables={"env": {"A": "1"}},
        schedules=[{"schedule": {"cron": "0 * * * *"}, "active": True}],
        pull_steps=[{"step": {}}],
        enforce_parameter_schema=True,
    )
    assert (deployment["work_pool_name"], deployment["work_queue_name"]) == ("probe-pool", "default")
    assert deployment["job_variables"] == deployment["infra_overrides"] == {"env": {"A": "1"}}
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 * * * *"]
    missing_pool = api.post("/deployments/", {"name": "x", "flow_id": deployment["flow_id"], "work_pool_name": "nope"})
    assert missing_pool.status_code == 404
    assert api.post(f"/deployments/{deployment['id']}/pause_deployment").status_code == 200
    assert api.get(f"/deployments/{deployment['id']}").json()["paused"] is True
    schedule_id = deployment["schedules"][0]["id"]
    assert api.patch(f"/deployments/{deployment['id']}/schedules/{schedule_id}", {"active": False}).status_code == 204
    assert DeploymentSchedule.objects.get(pk=schedule_id).active is False
    created = api.post(f"/deployments/{deployment['id']}/schedules", [{"schedule": INTERVAL}])
    assert created.status_code == 201
    assert len(api.get(f"/deployments/{deployment['id']}/schedules").json()) == 2
    assert api.delete(f"/deployments/{deployment['id']}/schedules/{schedule_id}").status_code == 204


def test_unknown_flow_and_blocks_are_conflicts(api: ApiClient) -> None:
    assert api.post("/deployments/", {"name": "x", "flow_id": str(uuid.uuid4())}).status_code == 409
    flow = FlowFactory()
    body = {"name": "x", "flow_id": str(flow.id), "infrastructure_document_id": str(uuid.uuid4())}
    assert api.post("/deployments/", body).status_code == 409


def test_invalid_schedules_are_rejected(api: ApiClient) -> None:
    flow = FlowFactory()
    response = api.post("/deployments/", {"name": "x", "flow_id": str(flow.id), "schedule": {"cron": "nope"}})
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["loc"] == ["body", "schedule"]


# ------------------------------------------------------------------------------ admin


def _scheduled_runs(deployment_id: Any) -> int:
    return FlowRun.objects.filter(deployment_id=deployment_id, auto_scheduled=True, state_type="SCHEDULED").count()


def test_admin_lists_schedules_in_words_without_a_bypassing_editor(admin_client: Any) -> None:
    from flows_app.admin.deployments import DeploymentAdmin, describe_schedule
    from tests.factories import DeploymentScheduleFactory, ScheduledDeploymentFactory

    deployment = ScheduledDeploymentFactory(name="hourly")
    DeploymentScheduleFactory(deployment=deployment, schedule={"cron": "0 9 * * *", "timezone": "Europe/Paris"})
    page = admin_client.get("/admin/flows_app/deployment/").content.decode()
    assert "every hour (UTC) (+1 more)" in page
    assert "default-agent-pool" in page
    # The active flag is changed through actions/the form (services), never list_editable.
    assert not DeploymentAdmin.list_editable
    assert describe_schedule({"interval": 5400}) == "every 90 minutes"
    assert describe_schedule({"rrule": "FREQ=DAILY", "timezone": "UTC"}) == "rrule FREQ=DAILY (UTC)"
    detail = admin_client.get(f"/admin/flows_app/deployment/{deployment.pk}/change/").content.decode()
    assert "cron 0 9 * * * (Europe/Paris)" in detail  # the schedule rows, inline
    assert admin_client.get("/admin/flows_app/deployment/add/").status_code == 403


def test_admin_actions_go_through_the_services(api: ApiClient, admin_client: Any) -> None:
    from flows_app.models import Deployment
    from flows_app.services.deployments import deployment_schedule_runs

    created = make_deployment(api, schedule=INTERVAL, work_queue_name="wq-admin")
    deployment = Deployment.objects.get(pk=created["id"])
    deployment_schedule_runs(workspace_id=deployment.workspace_id, deployment=deployment)
    assert _scheduled_runs(deployment.pk) == 3

    def act(action: str) -> str:
        response = admin_client.post(
            "/admin/flows_app/deployment/", {"action": action, "_selected_action": [str(deployment.pk)]}, follow=True
        )
        return response.content.decode()  # type: ignore[no-any-return]

    assert "Turned off 1 deployment(s)." in act("deactivate_schedule")
    assert Deployment.objects.get(pk=deployment.pk).is_schedule_active is False
    assert _scheduled_runs(deployment.pk) == 0  # as POST /deployments/{id}/set_schedule_inactive
    assert "Turned on 1 deployment(s)." in act("activate_schedule")
    assert "Paused 1 deployment(s)." in act("pause")
    assert "Resumed 1 deployment(s)." in act("resume")

    assert "Created 1 flow run(s)." in act("run_now")
    run = FlowRun.objects.get(deployment=deployment, auto_scheduled=False)
    assert (run.state_type, run.work_queue_name, run.work_queue_id) == (
        "SCHEDULED",
        "wq-admin",
        deployment.work_queue_id,
    )
    queue_runs = api.post(f"/work_queues/{deployment.work_queue_id}/get_runs", {}).json()
    assert [item["id"] for item in queue_runs] == [str(run.id)]  # an agent would pick it up


def test_admin_form_edits_schedule_through_the_service(api: ApiClient, admin_client: Any) -> None:
    from flows_app.models import Deployment
    from flows_app.services.deployments import deployment_schedule_runs

    created = make_deployment(api, schedule=INTERVAL, tags=["a"], parameters={"x": 1})
    deployment = Deployment.objects.get(pk=created["id"])
    deployment_schedule_runs(workspace_id=deployment.workspace_id, deployment=deployment)
    url = f"/admin/flows_app/deployment/{deployment.pk}/change/"
    form = {
        "description": "",
        "version": "",
        "is_schedule_active": "on",
        "schedule": '{"cron": "0 9 * * *", "timezone": "Europe/Paris"}',
        "parameters": '{"x": 2}',
        "tags": '["a", "b"]',
        "work_queue_name": "",
        "schedules-TOTAL_FORMS": "1",
        "schedules-INITIAL_FORMS": "1",
        "schedules-MIN_NUM_FORMS": "0",
        "schedules-MAX_NUM_FORMS": "1000",
    }
    bad = admin_client.post(url, {**form, "schedule": '{"cron": "nope"}'})
    assert bad.status_code == 200 and "Invalid cron string" in bad.content.decode()
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    deployment.refresh_from_db()
    assert deployment.schedule == {"cron": "0 9 * * *", "timezone": "Europe/Paris", "day_or": True}
    assert [row.schedule["cron"] for row in DeploymentSchedule.objects.filter(deployment=deployment)] == ["0 9 * * *"]
    assert (deployment.parameters, deployment.tags) == ({"x": 2}, ["a", "b"])
    assert _scheduled_runs(deployment.pk) == 0  # the old schedule's runs are gone

    deployment_schedule_runs(workspace_id=deployment.workspace_id, deployment=deployment)
    admin_client.post(f"/admin/flows_app/deployment/{deployment.pk}/delete/", {"post": "yes"})
    assert not Deployment.objects.filter(pk=deployment.pk).exists()
    assert not FlowRun.objects.filter(state_type="SCHEDULED").exists()


# ----------------------------------------------------------------- errors and races


def test_an_unknown_work_pool_is_a_404_detail(api: ApiClient) -> None:
    deployment = make_deployment(api)
    body = {"name": "x", "flow_id": deployment["flow_id"], "work_pool_name": "nope"}
    expected = {"detail": 'Work pool "nope" not found.'}
    response = api.post("/deployments/", body)
    assert (response.status_code, response.json()) == (404, expected)
    response = api.patch(f"/deployments/{deployment['id']}", {"work_pool_name": "nope"})
    assert (response.status_code, response.json()) == (404, expected)


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_one_deployment_all_succeed() -> None:
    """Eight clients apply the same deployment at once: one creates it, the others
    overwrite it (200), none gets a 409; one row, one schedule row."""
    from django.db import connection

    from flows_app.models import Deployment
    from tests.helpers import in_parallel, post

    flow = FlowFactory()
    body = {"name": "racing", "flow_id": str(flow.id), "schedule": INTERVAL}
    results = in_parallel(lambda client: post(client, "/deployments/", body))
    assert sorted(code for code, _ in results) == [200] * 7 + [201]
    assert len({deployment["id"] for _, deployment in results}) == 1
    assert Deployment.objects.filter(flow=flow).count() == 1
    assert DeploymentSchedule.objects.filter(deployment__flow=flow).count() == 1
    connection.close()


def test_is_schedule_active_and_paused_are_one_switch(api: ApiClient) -> None:
    """2.7 clients read is_schedule_active, 2.20 clients paused; both must tell the truth."""
    deployment = make_deployment(api, schedule=INTERVAL)
    path = f"/deployments/{deployment['id']}"

    def flags() -> tuple[bool, bool]:
        body = api.get(path).json()
        return body["is_schedule_active"], body["paused"]

    assert flags() == (True, False)
    api.post(f"{path}/set_schedule_inactive")
    assert flags() == (False, True)
    api.post(f"{path}/resume_deployment")
    assert flags() == (True, False)
    api.post(f"{path}/pause_deployment")
    assert flags() == (False, True)
    api.post(f"{path}/set_schedule_active")
    assert flags() == (True, False)
    api.patch(path, {"paused": True})
    assert flags() == (False, True)
    api.patch(path, {"is_schedule_active": True})
    assert flags() == (True, False)
    reapplied = api.post("/deployments/", {"name": "nightly", "flow_id": deployment["flow_id"], "paused": True})
    assert (reapplied.json()["is_schedule_active"], reapplied.json()["paused"]) == (False, True)
    reapplied = api.post("/deployments/", {"name": "nightly", "flow_id": deployment["flow_id"]})
    assert (reapplied.json()["is_schedule_active"], reapplied.json()["paused"]) == (True, False)
