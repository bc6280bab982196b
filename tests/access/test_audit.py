"""The audit trail: API writes with their outcome (reads not), refusals at the door
(rate-limited, never the key), management commands and the admin; orion_audit; pruning."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access_app.models import ApiKey, AuditEvent, AuditOutcome, Role
from access_app.services.audit import audit_prune, audit_retention_service
from orion_project.models import DEFAULT_WORKSPACE_ID
from orion_project.registry import registered_services
from tests.access.conftest import bearer, workspace
from tests.factories import FlowFactory
from tests.helpers import ApiClient

AUDIT_TABLE = AuditEvent._meta.db_table


def test_an_api_write_is_recorded_with_its_outcome(api: ApiClient, keyed: Any, make_key: Any) -> None:
    a = workspace("team-a")
    key = bearer(make_key(Role.RUNNER, workspace_id=a.pk))
    flow = FlowFactory(workspace_id=a.pk)
    assert api.post("/workspaces/team-a/logs/", [], **key).status_code == 201
    assert api.patch(f"/workspaces/team-a/flow_runs/{flow.id}", {"name": "x"}, **key).status_code == 404
    events = list(AuditEvent.objects.order_by("id").values())
    assert [(e["action"], e["status_code"], e["outcome"]) for e in events] == [
        ("POST /logs/", 201, AuditOutcome.SUCCESS),
        ("PATCH /flow_runs/{id}", 404, AuditOutcome.FAILURE),
    ]
    second = events[1]
    assert (second["channel"], second["actor"], second["workspace_id"], second["workspace_slug"]) == (
        "api",
        "key-0",
        a.pk,
        "team-a",
    )
    assert (second["object_type"], second["object_id"]) == ("flow_runs", str(flow.id))


def test_a_read_costs_no_audit_query_and_a_write_one_insert(api: ApiClient, keyed: Any, make_key: Any) -> None:
    key = bearer(make_key(Role.DEVELOPER))
    flow = FlowFactory()
    api.get("/flows/", **key)  # the key is cached from here on
    with CaptureQueriesContext(connection) as reads:
        assert api.get(f"/flows/{flow.id}", **key).status_code == 200
        assert api.post("/flows/filter", {}, **key).status_code == 200
        assert api.post("/flows/count", {}, **key).status_code == 200
    assert not [query for query in reads if AUDIT_TABLE in query["sql"]]
    with CaptureQueriesContext(connection) as writes:
        assert api.patch(f"/flows/{flow.id}", {"tags": ["t"]}, **key).status_code == 204
    audit = [query["sql"].split()[0] for query in writes if AUDIT_TABLE in query["sql"]]
    assert audit == ["INSERT"]
    assert AuditEvent.objects.get().action == "PATCH /flows/{id}"


def test_refusals_are_recorded_once_a_minute_per_source_and_reason_without_the_key(
    api: ApiClient, keyed: Any, monkeypatch: Any
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("access_app.services.audit.time.monotonic", lambda: clock[0])
    wrong = "orion_this-is-not-a-key-0123456789"
    for _ in range(3):
        assert api.get("/flows/").status_code == 401
        assert api.get("/flows/", **bearer(wrong)).status_code == 401
    rows = list(AuditEvent.objects.order_by("id").values("channel", "detail", "status_code", "source", "action"))
    assert rows == [
        {
            "channel": "door",
            "detail": "no credentials",
            "status_code": 401,
            "source": "127.0.0.1",
            "action": "GET /api/flows/",
        },
        {
            "channel": "door",
            "detail": "invalid key",
            "status_code": 401,
            "source": "127.0.0.1",
            "action": "GET /api/flows/",
        },
    ]
    stored = [str(value) for row in AuditEvent.objects.values_list() for value in row]
    assert not any(wrong in value or wrong[:12] in value for value in stored)
    clock[0] += 61
    api.get("/flows/")
    assert AuditEvent.objects.count() == 3


def test_a_role_refusal_is_recorded_at_the_door(api: ApiClient, keyed: Any, make_key: Any) -> None:
    key = bearer(make_key(Role.VIEWER))
    assert api.post("/logs/", [], **key).status_code == 403
    event = AuditEvent.objects.get()
    assert (event.channel, event.detail, event.status_code, event.workspace_id) == ("door", "role", 403, 1)


def orion(*args: str) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_management_commands_that_write_are_recorded(db: None) -> None:
    orion("orion_workspace", "create", "team-a")
    raw = orion("orion_api_key", "create", "agent", "--workspace", "team-a", "--role", "runner")[-1]
    with pytest.raises(CommandError):
        orion("orion_workspace", "create", "Bad Slug")
    orion("orion_workspace", "delete", "team-a", "--force")
    events = list(
        AuditEvent.objects.order_by("id").values_list("channel", "action", "workspace_slug", "object_id", "outcome")
    )
    assert events == [
        ("command", "orion_workspace create", "team-a", "team-a", "success"),
        ("command", "orion_api_key create", "team-a", "agent", "success"),
        ("command", "orion_workspace create", "", "Bad Slug", "failure"),
        ("command", "orion_workspace delete", "team-a", "team-a", "success"),
    ]
    # The deleted workspace's trail stays, by slug.
    assert AuditEvent.objects.filter(workspace_slug="team-a", workspace__isnull=True).count() == 3
    assert not any(raw in str(value) for row in AuditEvent.objects.values_list() for value in row)


def test_admin_writes_are_recorded_through_its_log(db: None) -> None:
    browser = Client()
    browser.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    page = browser.post(
        "/admin/access_app/apikey/add/", {"name": "ci", "workspace": "1", "role": "viewer", "expires": ""}
    )
    assert page.status_code == 200
    browser.post("/admin/access_app/apikey/add/", {"name": "cd", "workspace": "1", "role": "viewer", "expires": ""})
    keys = [str(pk) for pk in ApiKey.objects.values_list("pk", flat=True)]
    # Several objects at once: the admin logs them in one bulk insert.
    browser.post("/admin/access_app/apikey/", {"action": "delete_selected", "_selected_action": keys, "post": "yes"})
    assert not ApiKey.objects.exists()
    events = list(
        AuditEvent.objects.order_by("id").values_list("channel", "actor", "action", "workspace_id", "object_id")
    )
    assert [event[:3] for event in events] == [
        ("admin", "root", "admin add access_app.apikey"),
        ("admin", "root", "admin add access_app.apikey"),
        ("admin", "root", "admin delete access_app.apikey"),
        ("admin", "root", "admin delete access_app.apikey"),
    ]
    assert {event[3] for event in events} == {DEFAULT_WORKSPACE_ID}
    assert sorted(event[4] for event in events[2:]) == sorted(keys)


def test_the_trail_in_the_admin_is_read_only(db: None) -> None:
    browser = Client()
    browser.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    AuditEvent.objects.create(channel="api", actor="k", action="POST /logs/", outcome="success", workspace_slug="x")
    page = browser.get("/admin/access_app/auditevent/?outcome__exact=success")
    assert page.status_code == 200 and "POST /logs/" in page.content.decode()
    assert browser.get("/admin/access_app/auditevent/add/").status_code == 403


def test_orion_audit_lists_a_workspace_since_a_time(db: None) -> None:
    old = timezone.now() - timedelta(days=3)
    for slug, at in (("team-a", old), ("team-a", timezone.now()), ("team-b", timezone.now())):
        AuditEvent.objects.create(
            at=at, channel="api", actor="k", workspace_slug=slug, action="POST /logs/", outcome="success"
        )
    lines = orion("orion_audit", "--workspace", "team-a", "--since", "1d")
    assert lines[0].split()[:4] == ["WHEN", "WORKSPACE", "CHANNEL", "WHO"]
    assert len(lines) == 2 and "team-a" in lines[1] and "POST /logs/" in lines[1]
    assert len(orion("orion_audit")) == 4
    with pytest.raises(CommandError, match="'soon' is not a duration"):
        orion("orion_audit", "--since", "soon")


def test_audit_prune_deletes_what_is_older_than_the_cutoff(db: None) -> None:
    now = timezone.now()
    for days in (400, 10, 0):
        AuditEvent.objects.create(at=now - timedelta(days=days), channel="api", action="POST /logs/", outcome="success")
    assert audit_prune(before=now - timedelta(days=365)) == 1
    assert AuditEvent.objects.count() == 2


def test_the_runs_commands_that_write_are_recorded_per_workspace(db: None) -> None:
    """``orion_prune`` and the other runs commands go through ``each_workspace``: a pass
    that writes is one command event per workspace, a dry run or a report none."""
    orion("orion_workspace", "create", "team-a")
    AuditEvent.objects.all().delete()
    orion("orion_prune", "--older-than", "0d", "--dry-run")
    orion("orion_limits")
    assert not AuditEvent.objects.exists()
    orion("orion_prune", "--older-than", "0d", "--workspace", "team-a")
    orion("orion_stuck")
    events = sorted(AuditEvent.objects.values_list("channel", "action", "workspace_slug", "outcome"))
    assert events == [
        ("command", "orion_prune", "team-a", "success"),
        ("command", "orion_stuck", "default", "success"),
        ("command", "orion_stuck", "team-a", "success"),
    ]


def test_the_services_loop_prunes_the_trail_by_its_setting(db: None, settings: Any) -> None:
    now = timezone.now()
    for days in (30, 1):
        AuditEvent.objects.create(at=now - timedelta(days=days), channel="api", action="POST /logs/", outcome="success")
    settings.ORION_AUDIT_RETENTION_DAYS = 0
    assert audit_retention_service() == 0
    settings.ORION_AUDIT_RETENTION_DAYS = 7
    assert "audit_retention" in {service.name for service in registered_services()}
    assert audit_retention_service() == 1
    assert AuditEvent.objects.count() == 1


def test_api_writes_can_be_left_out_of_the_trail(api: ApiClient, keyed: Any, make_key: Any, settings: Any) -> None:
    """``ORION_AUDIT_API_WRITES=false``: the clients' writes get no row; refusals at the
    door still do."""
    settings.ORION_AUDIT_API_WRITES = False
    key = bearer(make_key(Role.RUNNER))
    assert api.post("/logs/", [], **key).status_code == 201
    assert not AuditEvent.objects.exists()
    assert api.delete(f"/flows/{FlowFactory().id}", **key).status_code == 403
    assert list(AuditEvent.objects.values_list("channel", "detail")) == [("door", "role")]
