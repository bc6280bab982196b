"""``manage.py orion_workspace`` and the one delete path of a workspace's records, from the
command and from ``/api/workspaces/<slug>/admin/database/clear``."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from access_app.models import ApiKey, Role
from access_app.services.workspaces import workspace_contents
from flows_app.models import Flow
from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from runs_app.models import FlowRun, FlowRunState, Log, TaskRun
from tests.access.conftest import bearer, workspace
from tests.factories import FlowRunFactory, TaskRunFactory
from tests.helpers import ApiClient


def orion_workspace(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("orion_workspace", *args, stdout=out)
    return out.getvalue().splitlines()


def fill(workspace_id: int) -> FlowRun:
    """A flow, a run with a state, a task run and a log line in the workspace."""
    run = FlowRunFactory(workspace_id=workspace_id, flow__workspace_id=workspace_id)
    state = FlowRunState.objects.create(
        flow_run=run, workspace_id=workspace_id, type="RUNNING", name="Running", timestamp=run.created
    )
    FlowRun.objects.filter(pk=run.pk).update(state=state)
    TaskRunFactory(flow_run=run, workspace_id=workspace_id)
    Log.objects.create(
        workspace_id=workspace_id, flow_run_id=run.id, name="x", level=20, message="m", timestamp=run.created
    )
    return run


def test_create_list_rename(db: None) -> None:
    assert orion_workspace("create", "team-a", "--name", "Team A") == [
        "Created the workspace team-a: its API is /api/workspaces/team-a/."
    ]
    assert Workspace.objects.get(slug="team-a").name == "Team A"
    lines = orion_workspace("list")
    assert lines[0].split() == ["SLUG", "RECORDS", "API", "NAME"]
    assert [line.split()[0] for line in lines[1:]] == ["default", "team-a"]
    assert lines[1].split()[2] == "/api/"
    assert lines[2].split()[1:3] == ["0", "/api/workspaces/team-a/"]
    assert orion_workspace("rename", "team-a", "team-b", "--name", "B") == ["Renamed the workspace team-a to team-b."]
    assert Workspace.objects.get(slug="team-b").name == "B"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "Team_A"], "'Team_A' is not a workspace slug"),
        (["create", "a" * 41], "is not a workspace slug"),
        (["create", "a/b"], "'a/b' is not a workspace slug"),
        (["create", "taken"], "A workspace 'taken' already exists."),
        (["rename", "taken", "UPPER"], "'UPPER' is not a workspace slug"),
        (["rename", "taken", "default"], "A workspace 'default' already exists."),
        (["rename", "default", "main"], "The workspace 'default' cannot be renamed"),
        (["delete", "default", "--force"], "The workspace 'default' cannot be deleted"),
        (["delete", "nope"], "No workspace 'nope'."),
    ],
)
def test_bad_requests_are_refused(db: None, args: list[str], message: str) -> None:
    orion_workspace("create", "taken")
    with pytest.raises(CommandError, match=re.escape(message)):
        orion_workspace(*args)
    assert sorted(Workspace.objects.values_list("slug", flat=True)) == ["default", "taken"]


def test_delete_refuses_while_the_workspace_holds_anything_unless_forced(db: None) -> None:
    a, b = workspace("team-a"), workspace("team-b")
    fill(a.pk)
    fill(b.pk)
    held_by_b = workspace_contents(workspace_id=b.pk)
    ApiKey.objects.create(name="k", workspace=a, prefix="p", key_hash="h" * 64, role=Role.RUNNER)
    with pytest.raises(CommandError, match=r"The workspace 'team-a' holds .*1 flows_app.Flow.*--force"):
        orion_workspace("delete", "team-a")
    assert Flow.objects.filter(workspace=a).exists()

    lines = orion_workspace("delete", "team-a", "--force")
    assert lines[0].startswith("Deleted the workspace team-a (")
    assert not Workspace.objects.filter(slug="team-a").exists()
    assert not ApiKey.objects.exists()
    # Workspace b is untouched, row for row.
    assert workspace_contents(workspace_id=b.pk) == held_by_b
    assert all(model.objects.filter(workspace_id=b.pk).count() == 1 for model in (Flow, FlowRun, TaskRun, Log))
    assert orion_workspace("delete", "team-b", "--force")
    assert sum(model.objects.count() for model in (Flow, FlowRun, TaskRun, Log, FlowRunState)) == 0


def test_an_empty_workspace_deletes_without_force(db: None) -> None:
    workspace("empty")
    assert orion_workspace("delete", "empty") == ["Deleted the workspace empty (it was empty)."]


def test_clear_under_a_workspace_clears_only_that_workspace(api: ApiClient, keyed: Any, make_key: Any) -> None:
    a = workspace("team-a")
    fill(a.pk)
    fill(DEFAULT_WORKSPACE_ID)
    key = bearer(make_key(Role.ADMIN, workspace_id=a.pk))
    assert api.post("/workspaces/team-a/admin/database/clear", {"confirm": True}, **key).status_code == 204
    assert workspace_contents(workspace_id=a.pk) == {"access_app.ApiKey": 1}  # its keys stay
    assert Flow.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID).count() == 1
    assert FlowRun.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID).count() == 1


def test_drop_and_create_are_server_level(api: ApiClient, keyed: Any, make_key: Any) -> None:
    a = workspace("team-a")
    fill(a.pk)
    key = bearer(make_key(Role.ADMIN, workspace_id=a.pk))
    for route in ("drop", "create"):
        response = api.post(f"/workspaces/team-a/admin/database/{route}", {"confirm": True}, **key)
        assert response.status_code == 403
        assert response.json() == {
            "detail": "This acts on the whole server; it is not available under the workspace 'team-a'."
        }
    assert Flow.objects.filter(workspace=a).count() == 1
