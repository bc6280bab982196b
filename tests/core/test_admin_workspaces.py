"""The admin per workspace: a staff user sees and changes only the workspaces they are a
member of, their role there deciding read-only or not; superusers see every workspace.

Workspace A and B each hold a flow, a flow run and a work pool; the users are A's
developer, A's viewer, A's admin and a superuser, driven through the admin's pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access_app.admin_scope import TenantAdmin
from access_app.models import Membership, Role
from flows_app.models import Flow, WorkPool, WorkQueue
from orion_project.models import DEFAULT_WORKSPACE_ID, TenantModel, Workspace
from runs_app.models import FlowRun
from runs_app.orchestration.context import ProposedState
from runs_app.services.runs import flow_run_set_state
from tests.factories import FlowFactory, FlowRunFactory

RUNS = "/admin/runs_app/flowrun/"
FLOWS = "/admin/flows_app/flow/"


@dataclass
class Team:
    workspace: Workspace
    flow: Flow
    run: FlowRun
    pool: WorkPool
    queue: WorkQueue


def make_team(slug: str) -> Team:
    workspace = Workspace.objects.create(slug=slug, name=f"Team {slug}")
    flow = FlowFactory.create(workspace_id=workspace.pk, name=f"etl-{slug}")
    run = FlowRunFactory.create(workspace_id=workspace.pk, flow=flow, name=f"run-of-{slug}")
    flow_run_set_state(
        flow_run_id=run.pk,
        state=ProposedState.make(type="RUNNING", timestamp=timezone.now()),
        workspace_id=workspace.pk,
    )
    pool = WorkPool.objects.create(workspace_id=workspace.pk, name=f"pool-{slug}")
    queue = WorkQueue.objects.create(workspace_id=workspace.pk, name=f"queue-{slug}", work_pool=pool)
    return Team(workspace, flow, run, pool, queue)


@pytest.fixture
def a(db: None) -> Team:
    return make_team("a")


@pytest.fixture
def b(db: None) -> Team:
    return make_team("b")


def member(username: str, team: Team, role: Role) -> Client:
    user = User.objects.create_user(username, password="pw-for-tests", is_staff=True)
    Membership.objects.create(user=user, workspace=team.workspace, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def developer(a: Team, b: Team) -> Client:
    return member("dev-a", a, Role.DEVELOPER)


@pytest.fixture
def viewer(a: Team, b: Team) -> Client:
    return member("viewer-a", a, Role.VIEWER)


@pytest.fixture
def superuser(a: Team, b: Team) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def running(run: FlowRun) -> bool:
    return FlowRun.objects.get(pk=run.pk).state_type == "RUNNING"


def test_every_admin_of_a_tenant_model_is_scoped_by_workspace() -> None:
    """A new tenant model's admin that forgets the workspace fails here."""
    unscoped = sorted(
        model.__name__
        for model, model_admin in admin.site._registry.items()
        if issubclass(model, TenantModel) and not isinstance(model_admin, TenantAdmin)
    )
    assert unscoped == []


def test_a_developer_lists_only_a_runs_and_flows(developer: Client, a: Team, b: Team) -> None:
    runs = page(developer, RUNS)
    assert "run-of-a" in runs and "run-of-b" not in runs and "etl-b" not in runs
    # The workspace column and filter, offering A alone.
    assert f'href="?workspace={a.workspace.pk}"' in runs and f"?workspace={b.workspace.pk}" not in runs
    assert '<th class="column-workspace">' in runs or "column-workspace" in runs
    # Asking for B's rows by the filter shows nothing of B.
    assert "etl-b" not in page(developer, f"{RUNS}?workspace={b.workspace.pk}")
    flows = page(developer, FLOWS)
    assert "etl-a" in flows and "etl-b" not in flows
    # A search or a filter by B's flow finds nothing either.
    assert "run-of-b" not in page(developer, f"{RUNS}?q=run-of")
    assert "run-of-b" not in page(developer, f"{RUNS}?flow__id__exact={b.flow.pk}&workspace={a.workspace.pk}")


def test_another_workspace_record_is_not_found_like_an_unknown_id(developer: Client, a: Team, b: Team) -> None:
    for url in (f"{RUNS}{{}}/change/", f"{FLOWS}{{}}/change/", f"{FLOWS}{{}}/history/", f"{FLOWS}{{}}/delete/"):
        pk = b.run.pk if url.startswith(RUNS) else b.flow.pk
        foreign = developer.get(url.format(pk))
        unknown = developer.get(url.format(uuid.uuid4()))
        assert foreign.status_code == unknown.status_code == 302, url
        assert foreign["Location"] == unknown["Location"] == "/admin/"
    assert developer.get(f"{RUNS}{b.run.pk}/action/cancel/").status_code == 404
    assert page(developer, f"{RUNS}{a.run.pk}/change/").count("run-of-a") >= 1
    # The runs dashboard counts A's runs; B's is not a workspace of this user.
    assert developer.get(f"{RUNS}dashboard/?workspace={b.workspace.pk}").status_code == 404
    assert "Runs dashboard: a" in page(developer, f"{RUNS}dashboard/")


def test_lookups_offer_only_the_member_workspace(developer: Client, a: Team, b: Team) -> None:
    # Autocomplete of a queue's pool.
    found = developer.get(
        "/admin/autocomplete/",
        {"app_label": "flows_app", "model_name": "workqueue", "field_name": "work_pool", "term": "pool"},
    ).json()
    assert [row["text"] for row in found["results"]] == ["pool-a"]
    # The raw-id lookup of a run's queue.
    popup = page(developer, "/admin/flows_app/workqueue/?_to_field=id&_popup=1")
    assert "queue-a" in popup and "queue-b" not in popup
    # A queue of A cannot be moved to B's pool by its id.
    form = {"name": "queue-a", "work_pool": str(b.pool.pk), "priority": "1", "concurrency_limit": ""}
    answer = developer.post(f"/admin/flows_app/workqueue/{a.queue.pk}/change/", form)
    assert answer.status_code == 200 and "Select a valid choice" in answer.content.decode()
    assert WorkQueue.objects.get(pk=a.queue.pk).work_pool_id == a.pool.pk


def test_a_viewer_reads_but_cannot_change_or_act(viewer: Client, a: Team, b: Team) -> None:
    runs = page(viewer, RUNS)
    assert "run-of-a" in runs and "run-of-b" not in runs
    assert 'name="action"' not in runs  # no actions offered
    run_page = page(viewer, f"{RUNS}{a.run.pk}/change/")
    assert 'name="_save"' not in run_page and "/action/cancel/" in run_page
    flow_page = page(viewer, f"{FLOWS}{a.flow.pk}/change/")
    assert 'name="_save"' not in flow_page
    assert viewer.get(f"{FLOWS}add/").status_code == 403
    assert viewer.get(f"{RUNS}{a.run.pk}/action/cancel/").status_code == 403
    assert viewer.post(f"{RUNS}{a.run.pk}/action/cancel/", {"reason": "no"}).status_code == 403
    assert viewer.post(f"{FLOWS}{a.flow.pk}/delete/", {"post": "yes"}).status_code == 403
    viewer.post(RUNS, {"action": "cancel_runs", "_selected_action": [str(a.run.pk)], "confirm": "yes"})
    assert viewer.post("/admin/runs_app/flowrun/prune/", {}).status_code == 403
    assert running(a.run) and Flow.objects.filter(pk=a.flow.pk).exists()
    assert not LogEntry.objects.exists()


def test_a_bulk_action_touches_only_the_rows_the_user_may_change(developer: Client, a: Team, b: Team) -> None:
    selected = {"action": "cancel_runs", "_selected_action": [str(a.run.pk), str(b.run.pk)]}
    asked = page_post(developer, RUNS, selected)
    assert "<strong>1</strong> flow run" in asked
    done = page_post(developer, RUNS, {**selected, "confirm": "yes"}, follow=True)
    assert "Cancel: 1 run(s) accepted; 0 refused by orchestration." in done
    assert FlowRun.objects.get(pk=a.run.pk).state_type == "CANCELLED" and running(b.run)
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.action_flag, entry.user.username) == (str(a.run.pk), CHANGE, "dev-a")
    assert "Cancel from the admin" in entry.change_message

    selected["action"] = "delete_runs"
    page_post(developer, RUNS, {**selected, "confirm": "yes"}, follow=True)
    assert not FlowRun.objects.filter(pk=a.run.pk).exists() and FlowRun.objects.filter(pk=b.run.pk).exists()
    deleted = LogEntry.objects.get(action_flag=DELETION)
    assert deleted.object_id == str(a.run.pk)

    # Pausing pools: one of A, one of B selected; B's stays as it was.
    pools = {"action": "pause", "_selected_action": [str(a.pool.pk), str(b.pool.pk)]}
    developer.post("/admin/flows_app/workpool/", pools)
    assert WorkPool.objects.get(pk=a.pool.pk).is_paused and not WorkPool.objects.get(pk=b.pool.pk).is_paused
    assert LogEntry.objects.filter(object_id=str(a.pool.pk), action_flag=CHANGE).exists()
    assert not LogEntry.objects.filter(object_id=str(b.pool.pk)).exists()


def test_actions_skip_rows_of_a_workspace_the_user_only_reads(a: Team, b: Team) -> None:
    client = member("dev-a-viewer-b", a, Role.DEVELOPER)
    Membership.objects.create(user=User.objects.get(username="dev-a-viewer-b"), workspace=b.workspace, role=Role.VIEWER)
    pools = page(client, "/admin/flows_app/workpool/")
    assert "pool-a" in pools and "pool-b" in pools
    client.post("/admin/flows_app/workpool/", {"action": "pause", "_selected_action": [str(a.pool.pk), str(b.pool.pk)]})
    assert WorkPool.objects.get(pk=a.pool.pk).is_paused and not WorkPool.objects.get(pk=b.pool.pk).is_paused
    assert 'name="_save"' not in page(client, f"/admin/flows_app/workpool/{b.pool.pk}/change/")
    assert 'name="_save"' in page(client, f"/admin/flows_app/workpool/{a.pool.pk}/change/")
    # B's run list is readable; acting on it changes nothing.
    selected = {"action": "cancel_runs", "_selected_action": [str(b.run.pk)], "confirm": "yes"}
    client.post(f"{RUNS}?workspace={b.workspace.pk}", selected)
    assert running(b.run) and not LogEntry.objects.filter(object_id=str(b.run.pk)).exists()


def test_a_member_of_two_workspaces_cannot_link_their_records(a: Team, b: Team) -> None:
    client = member("dev-both", a, Role.DEVELOPER)
    Membership.objects.create(user=User.objects.get(username="dev-both"), workspace=b.workspace, role=Role.DEVELOPER)
    form = {"name": "queue-a", "work_pool": str(b.pool.pk), "priority": "1", "concurrency_limit": ""}
    answer = client.post(f"/admin/flows_app/workqueue/{a.queue.pk}/change/", form)
    assert answer.status_code == 200 and "Choose a record of the same workspace." in answer.content.decode()
    assert WorkQueue.objects.get(pk=a.queue.pk).work_pool_id == a.pool.pk
    # Either workspace may be chosen for a new record; the superuser's too.
    add_form = page(client, f"{FLOWS}add/")
    assert f'<option value="{a.workspace.pk}"' in add_form and f'<option value="{b.workspace.pk}"' in add_form


def page_post(client: Client, url: str, data: Mapping[str, Any], follow: bool = False) -> str:
    response = client.post(url, data, follow=follow)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_a_new_record_goes_to_a_workspace_where_the_user_may_change(developer: Client, a: Team, b: Team) -> None:
    form = page(developer, f"{FLOWS}add/")
    assert f'<option value="{a.workspace.pk}"' in form and f'<option value="{b.workspace.pk}"' not in form
    refused = developer.post(f"{FLOWS}add/", {"workspace": str(b.workspace.pk), "name": "sneaky", "tags": "[]"})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    missing = developer.post(f"{FLOWS}add/", {"name": "nowhere", "tags": "[]"})
    assert missing.status_code == 200 and "This field is required" in missing.content.decode()
    developer.post(f"{FLOWS}add/", {"workspace": str(a.workspace.pk), "name": "etl-b", "tags": "[]"})
    # A name of B may repeat in A; the new flow is A's, and recorded.
    assert Flow.objects.filter(name="etl-b", workspace=a.workspace).exists()
    assert LogEntry.objects.filter(action_flag=ADDITION, user__username="dev-a").count() == 1


def test_a_superuser_sees_every_workspace_and_filters_by_one(superuser: Client, a: Team, b: Team) -> None:
    flows = page(superuser, FLOWS)
    assert "etl-a" in flows and "etl-b" in flows
    only_b = page(superuser, f"{FLOWS}?workspace={b.workspace.pk}")
    assert "etl-b" in only_b and "etl-a" not in only_b
    # The run list shows one workspace at a time (the first by default), any of them.
    runs = page(superuser, RUNS)
    assert "run-of-a" in runs and "run-of-b" not in runs
    assert f"?workspace={DEFAULT_WORKSPACE_ID}" in runs
    # The flow filter offers the listed workspace's flows.
    assert "etl-b" not in runs
    runs_of_b = page(superuser, f"{RUNS}?workspace={b.workspace.pk}")
    assert "run-of-b" in runs_of_b and "etl-a" not in runs_of_b
    assert "run-of-b" in page(superuser, f"{RUNS}{b.run.pk}/change/")
    assert "Runs dashboard: b" in page(superuser, f"{RUNS}dashboard/?workspace={b.workspace.pk}")


def test_memberships_and_workspaces_are_managed_per_workspace(a: Team, b: Team) -> None:
    admin_a = member("admin-a", a, Role.ADMIN)
    newcomer = User.objects.create_user("newcomer", is_staff=True)
    workspaces = page(admin_a, "/admin/orion_project/workspace/")
    assert ">a</a>" in workspaces and ">b</a>" not in workspaces
    assert admin_a.get("/admin/orion_project/workspace/add/").status_code == 403
    assert admin_a.get(f"/admin/orion_project/workspace/{b.workspace.pk}/change/").status_code == 302
    memberships = "/admin/access_app/membership/add/"
    refused = admin_a.post(memberships, {"user": newcomer.pk, "workspace": b.workspace.pk, "role": "viewer"})
    assert "Select a valid choice" in refused.content.decode()
    admin_a.post(memberships, {"user": newcomer.pk, "workspace": a.workspace.pk, "role": "runner"})
    assert Membership.objects.get(user=newcomer).workspace_id == a.workspace.pk
    # A developer manages no members.
    developer = member("dev-a", a, Role.DEVELOPER)
    assert developer.get(memberships).status_code == 403


def test_workspaces_are_added_and_deleted_by_superusers_with_a_valid_slug(superuser: Client, a: Team) -> None:
    bad = superuser.post("/admin/orion_project/workspace/add/", {"slug": "Team A!", "name": ""})
    assert bad.status_code == 200 and not Workspace.objects.filter(slug="Team A!").exists()
    superuser.post("/admin/orion_project/workspace/add/", {"slug": "team-c", "name": "C"} | inline_empty())
    assert Workspace.objects.filter(slug="team-c").exists()
    # The default workspace is never deleted; a workspace holding records is protected.
    assert superuser.get(f"/admin/orion_project/workspace/{DEFAULT_WORKSPACE_ID}/delete/").status_code == 403
    protected = page(superuser, f"/admin/orion_project/workspace/{a.workspace.pk}/delete/")
    assert "would require deleting the following protected related objects" in protected


def inline_empty() -> dict[str, str]:
    """The management form of the workspace page's (empty) membership inline."""
    prefix = "memberships"
    return {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")
def test_run_pages_read_the_run_table_by_indexes_led_by_the_workspace(developer: Client, a: Team) -> None:
    """Every read of the flow-run table by the run list and the dashboard can be served
    by an ``ix_fr_ws_*`` index (sequential scans off: on a few rows the
    planner would rightly scan the table)."""
    urls = (RUNS, f"{RUNS}?state_type__exact=RUNNING", f"{RUNS}?late=yes", f"{RUNS}dashboard/")
    with CaptureQueriesContext(connection) as reads:
        for url in urls:
            page(developer, url)
    statements = [
        query["sql"]
        for query in reads.captured_queries
        if 'FROM "runs_app_flowrun"' in query["sql"] and not query["sql"].startswith("EXPLAIN")
    ]
    assert statements
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            for sql in statements:
                cursor.execute(f"EXPLAIN {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                # Or an index led by the queue (the scheduled-runs one, or the queue's
                # foreign key, which the planner may pick on a few rows): a queue is of
                # one workspace.
                by_queue = ("ix_fr_queue_next_scheduled", "runs_app_flowrun_work_queue_id")
                assert "ix_fr_ws_" in plan or any(name in plan for name in by_queue), (sql, plan)
        finally:
            cursor.execute("SET enable_seqscan = on")
