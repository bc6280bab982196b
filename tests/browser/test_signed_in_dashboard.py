"""The signed-in dashboard with ``ORION_AUTH=api-key``: sign in, the stock UI of workspace
A shows A's runs and not B's, the run link a client of A prints opens that run after
sign-in, and a viewer's delete from the dashboard is refused.

The data is written through the API as a signed-in administrator does from the dashboard
(session cookie and the CSRF token of ``/api/csrf-token``), so no key is needed here.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, ADMIN_USER, Traffic, running_server, ui_dir

pytestmark = pytest.mark.skipif(
    not (ui_dir() / "index.html").exists(), reason="no Prefect UI installed (manage.py orion_ui install)"
)

VIEWER, VIEWER_PASSWORD = "viewer-ana", "browser-viewer-only-91be"
SETUP = f"""
from django.contrib.auth.models import User
from access_app.models import Membership
from orion_project.models import Workspace
a = Workspace.objects.create(slug="team-a", name="Team A")
Workspace.objects.create(slug="team-b", name="Team B")
viewer = User.objects.create_user({VIEWER!r}, "ana@example.com", {VIEWER_PASSWORD!r})
Membership.objects.create(user=viewer, workspace=a, role="viewer")
"""


class SessionApi:
    """The API of one workspace, called with a signed-in session as the dashboard does."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.opener.open(f"{base}/sign-in/").read()
        jar = self.opener.handlers  # the cookie processor holds the jar
        csrf = next(
            cookie.value
            for handler in jar
            if isinstance(handler, urllib.request.HTTPCookieProcessor)
            for cookie in handler.cookiejar
            if cookie.name == "csrftoken"
        )
        form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf})
        self.opener.open(urllib.request.Request(f"{base}/sign-in/", data=form.encode())).read()
        self.tokens: dict[str, str] = {}

    def call(self, method: str, slug: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "X-PREFECT-API-VERSION": "0.8.4"}
        if method != "GET":
            if slug not in self.tokens:
                self.tokens[slug] = self.call("GET", slug, "/csrf-token?client=seed")[1]["token"]
            headers.update({"Prefect-Csrf-Token": self.tokens[slug], "Prefect-Csrf-Client": "seed"})
        data = None if body is None else json.dumps(body).encode()
        url = f"{self.base}/api/workspaces/{slug}{path}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        return status, json.loads(raw) if raw else None

    def create(self, slug: str, path: str, body: Any) -> dict[str, Any]:
        status, answer = self.call("POST", slug, path, body)
        assert status in (200, 201), f"POST {slug} {path}: {status} {answer}"
        return dict(answer)


@dataclass
class TwoTeams:
    base: str
    admin: SessionApi
    flow_a: dict[str, Any]
    run_a: dict[str, Any]
    run_b: dict[str, Any]


@pytest.fixture(scope="module")
def teams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoTeams]:
    data = tmp_path_factory.mktemp("orion-signed-in")
    with running_server(data, extra_env={"ORION_AUTH": "api-key"}, setup=SETUP) as base:
        admin = SessionApi(base, ADMIN_USER, ADMIN_PASSWORD)
        runs = {}
        flow_a: dict[str, Any] = {}
        for slug in ("team-a", "team-b"):
            flow = admin.create(slug, "/flows/", {"name": "etl"})  # the same name in both: per workspace
            flow_a = flow if slug == "team-a" else flow_a
            runs[slug] = admin.create(slug, "/flow_runs/", {"flow_id": flow["id"], "name": f"{slug}-nightly-run"})
            admin.create(slug, f"/flow_runs/{runs[slug]['id']}/set_state", {"state": {"type": "COMPLETED"}})
        yield TwoTeams(base, admin, flow_a, runs["team-a"], runs["team-b"])


@pytest.fixture
def tab(browser: Any, teams: TwoTeams) -> Iterator[tuple[Any, Traffic]]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=teams.base)
    context.set_default_timeout(20_000)
    page = context.new_page()
    traffic = Traffic(teams.base)
    traffic.watch(page)
    yield page, traffic
    context.close()


def sign_in(page: Any, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_the_printed_run_link_opens_the_run_after_sign_in(tab: tuple[Any, Traffic], teams: TwoTeams) -> None:
    """A client with ``PREFECT_API_URL=<server>/api/workspaces/team-a`` prints this link."""
    page, traffic = tab
    page.goto(f"/workspace/team-a/flow-runs/flow-run/{teams.run_a['id']}")
    assert page.url.startswith(f"{teams.base}/sign-in/?next=")
    sign_in(page, ADMIN_USER, ADMIN_PASSWORD)
    page.wait_for_url(f"**/workspace/team-a/flow-runs/flow-run/{teams.run_a['id']}")
    page.get_by_text(teams.run_a["name"]).first.wait_for(state="visible")
    page.get_by_text("Completed").first.wait_for(state="visible")
    assert not traffic.problems(), traffic.problems()


def test_the_dashboard_of_a_workspace_shows_its_runs_only(tab: tuple[Any, Traffic], teams: TwoTeams) -> None:
    page, traffic = tab
    page.goto("/workspace/team-a/flow-runs")
    sign_in(page, ADMIN_USER, ADMIN_PASSWORD)
    page.wait_for_url("**/workspace/team-a/flow-runs")
    page.get_by_text(teams.run_a["name"]).first.wait_for(state="visible")
    assert page.get_by_text(teams.run_b["name"]).count() == 0
    page.goto("/workspace/team-b/flow-runs")
    page.get_by_text(teams.run_b["name"]).first.wait_for(state="visible")
    assert page.get_by_text(teams.run_a["name"]).count() == 0
    assert not traffic.problems(), traffic.problems()


def test_a_viewer_cannot_delete_a_flow_from_the_dashboard(tab: tuple[Any, Traffic], teams: TwoTeams) -> None:
    page, traffic = tab
    page.goto(f"/workspace/team-a/flows/flow/{teams.flow_a['id']}")
    sign_in(page, VIEWER, VIEWER_PASSWORD)
    page.wait_for_url(f"**/workspace/team-a/flows/flow/{teams.flow_a['id']}")
    page.locator(".page-heading", has_text=teams.flow_a["name"]).first.wait_for(state="visible")
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.locator(".page-heading .p-icon-button-menu button, .page-heading button[aria-haspopup]").last.click()
        page.get_by_role("menuitem", name="Delete").or_(page.get_by_text("Delete", exact=True)).first.click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    assert deleted.value.status == 403
    assert "viewer" in deleted.value.json()["detail"]
    status, _ = teams.admin.call("GET", "team-a", f"/flows/{teams.flow_a['id']}")
    assert status == 200, "the flow is still there"
    # Nothing else failed: the refused delete is the one 403.
    assert [line for line in traffic.problems() if "403 DELETE" not in line and "console" not in line] == []
    # The viewer is no member of team-b: its dashboard is refused.
    assert page.goto("/workspace/team-b/").status == 403
