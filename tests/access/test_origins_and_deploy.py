"""Cross-origin requests, the destructive admin routes, production settings and the warning."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpResponse

from access_app.middleware import ApiAccessMiddleware
from access_app.models import Role
from flows_app.models import Flow
from orion_project.models import DEFAULT_WORKSPACE_ID
from tests.access.conftest import bearer
from tests.helpers import ApiClient

ROOT = Path(__file__).resolve().parents[2]


def test_a_page_on_another_origin_cannot_drive_the_api(api: ApiClient) -> None:
    # A "simple" cross-site POST (no preflight) would otherwise be executed.
    response = api.post("/flows/", {"name": "evil"}, HTTP_ORIGIN="http://evil.example")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Requests from the origin http://evil.example are not allowed (see ORION_CORS_ORIGINS)."
    }
    assert "Access-Control-Allow-Origin" not in response
    assert Flow.objects.count() == 0


def test_the_servers_own_origin_is_allowed(api: ApiClient) -> None:
    assert api.post("/logs/", [], HTTP_ORIGIN="http://testserver").status_code == 201


def test_configured_origins_get_cors_headers_without_credentials(api: ApiClient, settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://dashboard.example"]
    preflight = api.client.options(
        "/api/flows/filter",
        HTTP_ORIGIN="https://dashboard.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert preflight["Access-Control-Allow-Origin"] == "https://dashboard.example"
    assert "Access-Control-Allow-Credentials" not in preflight
    response = api.post("/flows/filter", {}, HTTP_ORIGIN="https://dashboard.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://dashboard.example"
    other = api.client.options(
        "/api/flows/filter", HTTP_ORIGIN="http://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in other


def test_with_api_keys_an_allowed_origin_still_needs_a_key(api: ApiClient, keyed: Any, make_key: Any) -> None:
    keyed.CORS_ALLOWED_ORIGINS = ["https://dashboard.example"]
    assert api.post("/flows/filter", {}, HTTP_ORIGIN="https://dashboard.example").status_code == 401
    raw = make_key(Role.VIEWER)
    ok = api.post("/flows/filter", {}, HTTP_ORIGIN="https://dashboard.example", **bearer(raw))
    assert ok.status_code == 200


def test_clear_and_drop_are_403_without_debug_or_an_admin_key(api: ApiClient, settings: Any) -> None:
    Flow.objects.create(name="etl", workspace_id=DEFAULT_WORKSPACE_ID)
    settings.DEBUG = False
    for route in ("clear", "drop"):
        response = api.post(f"/admin/database/{route}", {"confirm": True})
        assert response.status_code == 403
        assert response.json() == {"detail": "Clearing the database needs DJANGO_DEBUG on or an admin's API key."}
    assert Flow.objects.count() == 1
    settings.DEBUG = True
    assert api.post("/admin/database/clear", {"confirm": True}).status_code == 204
    assert Flow.objects.count() == 0


def test_security_headers(api: ApiClient) -> None:
    response = api.get("/health")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_startup_warning_when_open_on_a_non_loopback_host(settings: Any, caplog: Any) -> None:
    settings.ORION_HOST = "0.0.0.0"
    with caplog.at_level(logging.WARNING, logger="orion.access"):
        ApiAccessMiddleware(lambda request: HttpResponse())
    assert "ORION_AUTH=none while the server answers to 0.0.0.0" in caplog.text
    caplog.clear()
    settings.ORION_AUTH = "api-key"
    with caplog.at_level(logging.WARNING, logger="orion.access"):
        ApiAccessMiddleware(lambda request: HttpResponse())
    assert caplog.text == ""


# The production variables README "Deploying safely" documents.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "x3Yq-production-secret-for-the-deploy-check-9f8e7d6c5b4a3210zyxwvutsrqponmlk",
    "DJANGO_ALLOWED_HOSTS": "orion.example.com",
    "ORION_HOST": "0.0.0.0",
    "ORION_AUTH": "api-key",
    "ORION_BEHIND_TLS": "true",
    "ORION_HSTS_PRELOAD": "true",
}


def deploy_check(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ORION_"))}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_the_documented_production_variables() -> None:
    result = deploy_check(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_warns_about_an_open_api() -> None:
    result = deploy_check({**PRODUCTION_ENV, "ORION_AUTH": "none"})
    assert result.returncode != 0
    assert "orion.W002" in result.stderr
