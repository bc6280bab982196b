"""The signed-in dashboard over HTTP (no browser): sign-in and the way back to the link a
client printed, the UI per workspace (files, ``ui-settings``), and the API calls of a
session: the role of the user in the workspace, CSRF tokens for unsafe methods, members
only, 401 without a session or a key."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from access_app.models import Membership, Role
from flows_app.models import Flow
from orion_project.models import Workspace
from tests.factories import FlowFactory
from tests.ui.conftest import body, served_at

PASSWORD = "dashboard-tests-only-3c1f"
RUN_ID = "8f8d0c55-1f37-4f5a-9c51-43a4b0a3b0f4"
VERSION = {"HTTP_X_PREFECT_API_VERSION": "0.8.4"}


@pytest.fixture
def keyed(settings: Any) -> Any:
    settings.ORION_AUTH = "api-key"
    return settings


@pytest.fixture
def team_a(db: None) -> Workspace:
    return Workspace.objects.create(slug="team-a", name="Team A")


@pytest.fixture
def team_b(db: None) -> Workspace:
    return Workspace.objects.create(slug="team-b", name="Team B")


def member(username: str, *roles: tuple[Workspace, Role]) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    for workspace, role in roles:
        Membership.objects.create(user=user, workspace=workspace, role=role)
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def csrf_headers(client: Client, slug: str, client_id: str = "ui-1") -> dict[str, str]:
    answer = client.get(f"/api/workspaces/{slug}/csrf-token?client={client_id}", **VERSION)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.content
    return {"HTTP_PREFECT_CSRF_TOKEN": answer.json()["token"], "HTTP_PREFECT_CSRF_CLIENT": client_id}


def test_a_printed_run_link_leads_to_sign_in_and_back_to_the_run(
    client: Client, keyed: Any, installed: Path, team_a: Workspace
) -> None:
    """``PREFECT_API_URL=.../api/workspaces/team-a`` makes the clients print this link."""
    member("ana", (team_a, Role.VIEWER))
    link = f"/workspace/team-a/flow-runs/flow-run/{RUN_ID}"
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == f"/sign-in/?next={link}"
    page = client.get(response["Location"])
    assert page.status_code == 200 and b'name="password"' in page.content

    signed = client.post("/sign-in/", {"username": "ana", "password": PASSWORD, "next": link})
    assert signed.status_code == 302 and signed["Location"] == link
    opened = client.get(link)
    assert opened.status_code == 200
    assert body(opened) == served_at("/workspace/team-a", installed / "index.html")
    assert b'src="/workspace/team-a/assets/index-AbCd1234.js"' in body(opened)
    # The root (workspace default) asks for sign-in too.
    assert Client().get("/")["Location"] == "/sign-in/?next=/"


def test_a_wrong_password_signs_nobody_in(client: Client, keyed: Any, installed: Path, team_a: Workspace) -> None:
    member("ana", (team_a, Role.VIEWER))
    answer = client.post("/sign-in/", {"username": "ana", "password": "wrong", "next": "/workspace/team-a/"})
    assert answer.status_code == 200 and b'class="error"' in answer.content
    assert client.get("/workspace/team-a/").status_code == 302
    assert client.get("/api/workspaces/team-a/flows/", **VERSION).status_code == 401  # type: ignore[arg-type]


def test_each_workspace_gets_the_ui_under_its_own_base(client: Client, installed: Path, team_a: Workspace) -> None:
    bundle = client.get("/workspace/team-a/assets/index-AbCd1234.js", HTTP_ACCEPT_ENCODING="gzip")
    assert bundle.status_code == 200 and bundle["Content-Encoding"] == "gzip"
    assert bundle["Cache-Control"] == "max-age=315360000, public, immutable"
    plain = client.get("/workspace/team-a/assets/index-AbCd1234.js")
    assert body(plain) == served_at("/workspace/team-a", installed / "assets/index-AbCd1234.js")
    assert b'return"/workspace/team-a"' in body(plain)
    assert client.get("/workspace/team-a/assets/index-AbCd1234.js", HTTP_IF_NONE_MATCH=plain["ETag"]).status_code == 304
    # Files without the placeholder are the same under every base.
    assert client.get("/workspace/team-a/ico/favicon-32x32.png").status_code == 200
    # With ORION_AUTH=none no sign-in is asked; an unknown workspace is a 404.
    assert body(client.get("/workspace/team-a/flow-runs")) == served_at("/workspace/team-a", installed / "index.html")
    assert client.get("/workspace/nobody/flow-runs").status_code == 404
    assert client.get("/workspace/nobody/assets/index-AbCd1234.js").status_code == 404


@pytest.mark.parametrize("auth, csrf", [("none", False), ("api-key", True)])
def test_ui_settings_point_each_workspace_at_its_api(
    client: Client, settings: Any, team_a: Workspace, auth: str, csrf: bool
) -> None:
    settings.ORION_AUTH = auth
    answer = client.get("/workspace/team-a/ui-settings").json()
    assert (answer["api_url"], answer["csrf_enabled"]) == ("/api/workspaces/team-a", csrf)
    assert "work_pools" in answer["flags"]
    assert client.get("/ui-settings").json()["api_url"] == "/api"
    assert client.get("/ui-settings").json()["csrf_enabled"] is csrf
    assert client.get("/workspace/nobody/ui-settings").status_code == 404


def test_unsafe_session_requests_need_the_token_of_their_session_and_client(
    keyed: Any, team_a: Workspace, monkeypatch: Any
) -> None:
    browser = signed_in(member("dev", (team_a, Role.DEVELOPER)))
    query = "/api/workspaces/team-a/flows/filter"
    refused = browser.post(query, "{}", content_type="application/json", **VERSION)  # type: ignore[arg-type]
    assert refused.status_code == 403
    assert "Invalid CSRF token" in refused.json()["detail"]  # the 2.20 UI refetches and retries on this

    token = browser.get("/api/workspaces/team-a/csrf-token?client=ui-1", **VERSION).json()  # type: ignore[arg-type]
    assert set(token) == {"id", "created", "updated", "token", "client", "expiration"}
    assert token["client"] == "ui-1"
    expiration = dt.datetime.fromisoformat(token["expiration"].replace("Z", "+00:00"))
    assert dt.timedelta(minutes=55) < expiration - timezone.now() <= dt.timedelta(hours=1)
    headers = {"HTTP_PREFECT_CSRF_TOKEN": token["token"], "HTTP_PREFECT_CSRF_CLIENT": "ui-1"}
    allowed = browser.post(query, "{}", content_type="application/json", **VERSION, **headers)  # type: ignore[arg-type]
    assert allowed.status_code == 200, allowed.content

    other_client = {**headers, "HTTP_PREFECT_CSRF_CLIENT": "ui-2"}
    assert browser.post(query, "{}", content_type="application/json", **other_client).status_code == 403
    other_session = signed_in(User.objects.get(username="dev"))
    assert other_session.post(query, "{}", content_type="application/json", **headers).status_code == 403
    later = timezone.now() + dt.timedelta(hours=1, minutes=1)
    monkeypatch.setattr("orion_project.session_csrf.timezone.now", lambda: later)
    assert browser.post(query, "{}", content_type="application/json", **headers).status_code == 403

    missing = browser.get("/api/workspaces/team-a/csrf-token", **VERSION)  # type: ignore[arg-type]
    assert missing.status_code == 422
    assert missing.json()["exception_detail"][0]["loc"] == ["query", "client"]


def test_clients_without_a_session_keep_the_422_and_need_a_key(client: Client, keyed: Any, team_a: Workspace) -> None:
    assert client.get("/api/workspaces/team-a/flows/", **VERSION).status_code == 401  # type: ignore[arg-type]
    assert client.post("/api/flows/filter", "{}", content_type="application/json").status_code == 401
    client.cookies["sessionid"] = "not-a-session"
    assert client.get("/api/flows/", **VERSION).status_code == 401  # type: ignore[arg-type]
    # A key, even a wrong one, is what counts: the session is not consulted then.
    browser = signed_in(User.objects.create_superuser("root", "root@example.com", PASSWORD))
    wrong_key = browser.get("/api/flows/", HTTP_AUTHORIZATION="Bearer nope", **VERSION)  # type: ignore[arg-type]
    assert (wrong_key.status_code, wrong_key.json()) == (401, {"detail": "Invalid API key."})


def test_the_csrf_route_tells_key_clients_protection_is_disabled(client: Client, team_a: Workspace) -> None:
    answer = client.get(f"/api/workspaces/team-a/csrf-token?client={uuid.uuid4()}")
    assert answer.status_code == 422 and "CSRF protection is disabled." in answer.json()["detail"]


def test_a_session_is_refused_outside_its_workspaces(
    keyed: Any, installed: Path, team_a: Workspace, team_b: Workspace
) -> None:
    browser = signed_in(member("ana", (team_a, Role.VIEWER)))
    assert browser.get("/api/workspaces/team-a/flows/", **VERSION).status_code == 200  # type: ignore[arg-type]
    refused = browser.get("/api/workspaces/team-b/flows/", **VERSION)  # type: ignore[arg-type]
    assert refused.status_code == 403 and "not a member" in refused.json()["detail"]
    # Not a member of default either.
    assert browser.get("/api/flows/", **VERSION).status_code == 403  # type: ignore[arg-type]
    page = browser.get("/workspace/team-b/flow-runs")
    assert page.status_code == 403 and b"Not a member of team-b" in page.content
    # Superusers see every workspace.
    root = signed_in(User.objects.create_superuser("root", "root@example.com", PASSWORD))
    assert root.get("/api/workspaces/team-b/flows/", **VERSION).status_code == 200  # type: ignore[arg-type]
    assert root.get("/workspace/team-b/flow-runs").status_code == 200


def test_a_session_is_accepted_from_this_servers_pages_only(keyed: Any, team_a: Workspace) -> None:
    browser = signed_in(member("ana", (team_a, Role.VIEWER)))
    path = "/api/workspaces/team-a/flows/"
    assert browser.get(path, HTTP_SEC_FETCH_SITE="same-origin").status_code == 200
    assert browser.get(path, HTTP_SEC_FETCH_SITE="cross-site").status_code == 403
    assert browser.get(path, HTTP_ORIGIN="http://elsewhere.example").status_code == 403


def test_a_viewer_may_read_but_not_delete(keyed: Any, team_a: Workspace) -> None:
    flow = FlowFactory(name="etl", workspace_id=team_a.id)
    browser = signed_in(member("ana", (team_a, Role.VIEWER)))
    assert browser.get(f"/api/workspaces/team-a/flows/{flow.id}", **VERSION).json()["name"] == "etl"  # type: ignore[arg-type]
    headers = csrf_headers(browser, "team-a")
    refused = browser.delete(f"/api/workspaces/team-a/flows/{flow.id}", **VERSION, **headers)  # type: ignore[arg-type]
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    assert Flow.objects.filter(id=flow.id).exists()


def test_the_switcher_lists_the_users_workspaces_and_signs_out(
    keyed: Any, installed: Path, team_a: Workspace, team_b: Workspace
) -> None:
    assert Client().get("/workspaces/")["Location"] == "/sign-in/?next=/workspaces/"
    browser = Client()
    member("ana", (team_a, Role.DEVELOPER))
    assert browser.post("/sign-in/", {"username": "ana", "password": PASSWORD})["Location"] == "/workspaces/"
    page = browser.get("/workspaces/").content.decode()
    assert 'href="/workspace/team-a/"' in page and "developer" in page
    assert "team-b" not in page and 'href="/"' not in page
    signed_out = browser.post("/sign-out/")
    assert signed_out.status_code == 302 and signed_out["Location"] == "/sign-in/"
    assert browser.get("/workspace/team-a/").status_code == 302
    assert browser.get("/api/workspaces/team-a/flows/", **VERSION).status_code == 401  # type: ignore[arg-type]


def test_the_sign_in_page_locks_out_like_the_admin_login(
    client: Client, keyed: Any, installed: Path, team_a: Workspace
) -> None:
    """django-axes guards both password logins: the right password is refused once
    ``ORION_ADMIN_LOGIN_FAILURE_LIMIT`` wrong ones were sent for the user."""
    member("ana", (team_a, Role.VIEWER))
    for _ in range(keyed.AXES_FAILURE_LIMIT - 1):
        assert client.post("/sign-in/", {"username": "ana", "password": "wrong"}).status_code == 200
    assert client.post("/sign-in/", {"username": "ana", "password": "wrong"}).status_code == 429
    assert client.post("/sign-in/", {"username": "ana", "password": PASSWORD}).status_code == 429
    assert client.get("/workspace/team-a/").status_code == 302
