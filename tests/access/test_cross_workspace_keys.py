"""A key acts in its own workspace only: another workspace's URL → 403, no key → 401, a
deleted workspace's key → 401, an unknown slug → 404; ORION_AUTH=none is the anonymous
admin of the request's workspace."""

from __future__ import annotations

from typing import Any

from access_app.models import ApiKey, AuditEvent, Role
from access_app.services.workspaces import workspace_delete
from flows_app.models import Flow
from tests.access.conftest import bearer, workspace
from tests.factories import FlowFactory
from tests.helpers import ApiClient


def test_a_key_of_workspace_a_under_bs_url_is_403(api: ApiClient, keyed: Any, make_key: Any) -> None:
    a, b = workspace("team-a"), workspace("team-b")
    key = bearer(make_key(Role.ADMIN, workspace_id=a.pk))
    flow_of_b = FlowFactory(workspace_id=b.pk)
    assert api.post("/workspaces/team-a/flows/filter", {}, **key).status_code == 200
    for response in (
        api.post("/workspaces/team-b/flows/filter", {}, **key),
        api.get(f"/workspaces/team-b/flows/{flow_of_b.id}", **key),
        api.delete(f"/workspaces/team-b/flows/{flow_of_b.id}", **key),
        api.post("/flows/filter", {}, **key),  # /api/... is the workspace default
    ):
        assert response.status_code == 403
    assert response.json() == {"detail": "The API key 'key-0' belongs to another workspace than 'default'."}
    assert Flow.objects.filter(pk=flow_of_b.pk).exists()


def test_a_default_key_is_refused_under_another_workspace(api: ApiClient, keyed: Any, make_key: Any) -> None:
    workspace("team-a")
    key = bearer(make_key(Role.ADMIN))
    assert api.get("/flows/", **key).status_code == 200
    refused = api.get("/workspaces/team-a/flows/", **key)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "The API key 'key-0' belongs to another workspace than 'team-a'."}


def test_no_key_under_a_workspace_is_401(api: ApiClient, keyed: Any) -> None:
    workspace("team-a")
    response = api.post("/workspaces/team-a/flows/filter", {})
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated: send an API key as 'Authorization: Bearer <key>'."}
    assert api.get("/workspaces/team-a/health").status_code == 200  # the probes stay open


def test_the_key_of_a_deleted_workspace_is_401(api: ApiClient, keyed: Any, make_key: Any) -> None:
    gone = workspace("gone")
    raw = make_key(Role.ADMIN, workspace_id=gone.pk)
    assert api.get("/workspaces/gone/flows/", **bearer(raw)).status_code == 200
    workspace_delete(slug="gone", force=True)
    assert not ApiKey.objects.exists()
    refused = api.get("/flows/", **bearer(raw))
    assert (refused.status_code, refused.json()) == (401, {"detail": "Invalid API key."})
    assert api.get("/workspaces/gone/flows/", **bearer(raw)).status_code == 404


def test_an_unknown_slug_is_404_before_any_key_check(api: ApiClient, keyed: Any, make_key: Any) -> None:
    for headers in ({}, bearer(make_key(Role.ADMIN))):
        response = api.get("/workspaces/nope/flows/", **headers)
        assert (response.status_code, response.json()) == (404, {"detail": "Workspace 'nope' not found."})


def test_without_keys_every_request_is_the_anonymous_admin_of_its_workspace(api: ApiClient, settings: Any) -> None:
    settings.ORION_AUTH = "none"
    a = workspace("team-a")
    flow = FlowFactory(workspace_id=a.pk)
    assert api.patch(f"/workspaces/team-a/flows/{flow.id}", {"tags": ["x"]}).status_code == 204
    event = AuditEvent.objects.get()
    assert (event.actor, event.workspace_id, event.workspace_slug) == ("anonymous", a.pk, "team-a")
    assert event.action == "PATCH /flows/{id}"
