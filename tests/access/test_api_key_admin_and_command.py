"""``manage.py orion_api_key`` and the key admin: the secret shown once, only its hash kept."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from access_app.models import ApiKey, Role
from orion_project.models import DEFAULT_WORKSPACE_ID
from tests.access.conftest import bearer, workspace
from tests.helpers import ApiClient


def orion_api_key(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("orion_api_key", *args, stdout=out)
    return out.getvalue().splitlines()


def test_create_prints_the_key_alone_on_the_last_line(api: ApiClient, keyed: Any) -> None:
    lines = orion_api_key("create", "ci", "--expires", "90d", "--scopes", "read")
    raw = lines[-1]
    assert re.fullmatch(r"orion_[A-Za-z0-9_-]{40,}", raw)
    key = ApiKey.objects.get(name="ci")
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (key.role, key.workspace_id) == (Role.VIEWER, DEFAULT_WORKSPACE_ID)  # --scopes read: viewer of default
    assert key.expires is not None
    assert abs(key.expires - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)
    assert not any(raw in line for line in lines[:-1])
    assert api.post("/flows/filter", {}, **bearer(raw)).status_code == 200
    assert api.post("/flows/", {"name": "x"}, **bearer(raw)).status_code == 403


def test_create_defaults_to_developer_of_default_and_never_expires(db: None) -> None:
    orion_api_key("create", "agent")
    key = ApiKey.objects.get()
    assert (key.role, key.workspace_id, key.expires) == (Role.DEVELOPER, DEFAULT_WORKSPACE_ID, None)


@pytest.mark.parametrize(("scope", "role"), [("read", "viewer"), ("write", "developer"), ("admin", "admin")])
def test_old_scopes_map_to_roles(db: None, scope: str, role: str) -> None:
    orion_api_key("create", "old", "--scopes", scope)
    assert ApiKey.objects.get().role == role
    workspace("team-a")
    orion_api_key("create", "old", "--scopes", scope, "--workspace", "team-a")
    assert ApiKey.objects.get(workspace__slug="team-a").role == role


def test_create_in_a_workspace_with_a_role(api: ApiClient, keyed: Any) -> None:
    team = workspace("team-a")
    lines = orion_api_key("create", "agent", "--workspace", "team-a", "--role", "runner", "--expires", "2w")
    assert lines[0].startswith("Created API key 'agent' (workspace team-a, role runner, expires 20")
    raw = lines[-1]
    key = ApiKey.objects.get()
    assert (key.workspace_id, key.role) == (team.pk, Role.RUNNER)
    assert api.post("/workspaces/team-a/flows/filter", {}, **bearer(raw)).status_code == 200
    assert api.post("/flows/filter", {}, **bearer(raw)).status_code == 403  # default is not its workspace
    # Names are per workspace.
    orion_api_key("create", "agent")
    assert ApiKey.objects.filter(name="agent").count() == 2
    assert [line.split()[0] for line in orion_api_key("list", "--workspace", "team-a")[1:]] == ["agent"]
    orion_api_key("revoke", "agent", "--workspace", "team-a")
    assert ApiKey.objects.get(workspace=team).revoked is not None
    assert ApiKey.objects.get(workspace_id=DEFAULT_WORKSPACE_ID).revoked is None


def test_list_shows_keys_without_secrets_and_revoke_refuses_them(api: ApiClient, keyed: Any) -> None:
    raw = orion_api_key("create", "agent", "--role", "admin")[-1]
    orion_api_key("create", "old")
    lines = orion_api_key("list")
    assert lines[0].split() == ["NAME", "PREFIX", "ROLE", "STATUS", "EXPIRES", "LAST", "USED"]
    assert [line.split()[0] for line in lines[1:]] == ["agent", "old"]
    assert lines[1].split()[1:4] == [raw[:12] + "…", "admin", "active"]
    assert not any(raw in line for line in lines)
    assert orion_api_key("revoke", "agent") == [f"Revoked agent ({raw[:12]}…) of the workspace default."]
    assert orion_api_key("list")[1].split()[3] == "revoked"
    assert api.get("/flows/", **bearer(raw)).status_code == 403


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "dup"], "A key named 'dup' already exists in this workspace."),
        (["create", "x", "--workspace", "nope"], "No workspace 'nope'"),
        (["list", "--workspace", "nope"], "No workspace 'nope'"),
        (["create", "x", "--expires", "soon"], "'soon' is not a duration such as 90d, 12h, 30m or 2w."),
        (["create", "x", "--expires", "0d"], "'0d' is not a duration such as 90d, 12h, 30m or 2w."),
        (["revoke", "missing"], "No key named 'missing'."),
    ],
)
def test_command_errors_are_clear(db: None, args: list[str], message: str) -> None:
    orion_api_key("create", "dup")
    with pytest.raises(CommandError, match=re.escape(message)):
        orion_api_key(*args)


@pytest.fixture
def admin_browser(db: None) -> Client:
    browser = Client()
    browser.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests"))
    return browser


def test_admin_creates_a_key_and_shows_it_once(admin_browser: Client, api: ApiClient, keyed: Any) -> None:
    page = admin_browser.post(
        "/admin/access_app/apikey/add/",
        {"name": "from-admin", "workspace": str(DEFAULT_WORKSPACE_ID), "role": "developer", "expires": ""},
    )
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    raw = re.search(r'<code id="api-key"[^>]*>([^<]+)</code>', page.content.decode())
    assert raw is not None
    key = ApiKey.objects.get(name="from-admin")
    assert key.key_hash == hashlib.sha256(raw.group(1).encode()).hexdigest()
    assert api.get("/flows/", **bearer(raw.group(1))).status_code == 200
    # Not in a message cookie or the session, and not on the key's own page.
    assert raw.group(1) not in str(page.cookies)
    change = admin_browser.get(f"/admin/access_app/apikey/{key.pk}/change/").content.decode()
    assert key.prefix in change and raw.group(1) not in change


def test_admin_refuses_a_past_expiry(admin_browser: Client) -> None:
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    page = admin_browser.post(
        "/admin/access_app/apikey/add/",
        {"name": "late", "workspace": "1", "role": "viewer", "expires_0": past, "expires_1": "00:00:00"},
    )
    assert page.status_code == 200
    assert "The expiry must be in the future." in page.content.decode()
    assert not ApiKey.objects.exists()


def test_admin_revoke_action(admin_browser: Client, api: ApiClient, keyed: Any) -> None:
    raw = orion_api_key("create", "agent")[-1]
    key = ApiKey.objects.get()
    admin_browser.post(
        "/admin/access_app/apikey/", {"action": "revoke", "_selected_action": [str(key.pk)]}, follow=True
    )
    key.refresh_from_db()
    assert key.revoked is not None
    assert api.get("/flows/", **bearer(raw)).status_code == 403
