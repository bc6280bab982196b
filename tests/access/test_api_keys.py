"""ORION_AUTH=api-key: Bearer keys as the Prefect clients send them, roles, 401/403."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access_app.models import ApiKey, Role
from access_app.principal import Principal
from access_app.services import api_key_revoke
from flows_app.models import Flow
from orion_project.models import DEFAULT_WORKSPACE_ID
from tests.access.conftest import bearer
from tests.factories import FlowFactory
from tests.helpers import ApiClient

NOT_AUTHENTICATED = {"detail": "Not authenticated: send an API key as 'Authorization: Bearer <key>'."}


@pytest.mark.parametrize("path", ["/health", "/ready", "/version"])
def test_probes_answer_without_a_key(api: ApiClient, keyed: Any, path: str) -> None:
    assert api.get(path).status_code == 200


def test_no_key_is_401_in_the_reference_error_shape(api: ApiClient, keyed: Any) -> None:
    for response in (api.get("/flows/"), api.post("/flows/filter", {}), api.post("/flows/", {"name": "x"})):
        assert response.status_code == 401
        assert response.json() == NOT_AUTHENTICATED
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert Flow.objects.count() == 0


@pytest.mark.parametrize("header", ["Bearer orion_not-a-key", "Basic dXNlcjpwYXNz", "Bearer ", "orion_x"])
def test_wrong_or_malformed_key_is_401(api: ApiClient, keyed: Any, header: str) -> None:
    response = api.get("/flows/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


def test_developer_key_changes_flows_but_not_admin_routes(api: ApiClient, keyed: Any, make_key: Any) -> None:
    key = bearer(make_key(Role.DEVELOPER))
    flow = FlowFactory()
    assert api.patch(f"/flows/{flow.id}", {"tags": ["etl"]}, **key).status_code == 204
    assert api.post("/flows/count", {}, **key).json() == 1
    refused = api.get("/admin/settings", **key)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "The API key 'key-0' has the developer role in the workspace 'default'; "
        "GET /api/admin/settings needs admin."
    }
    assert api.post("/admin/database/clear", {"confirm": True}, **key).status_code == 403
    assert api.delete(f"/flows/{flow.id}", **key).status_code == 204
    assert Flow.objects.count() == 0


def test_viewer_key_reads_and_queries_but_cannot_write(api: ApiClient, keyed: Any, make_key: Any) -> None:
    Flow.objects.create(name="etl", workspace_id=DEFAULT_WORKSPACE_ID)
    key = bearer(make_key(Role.VIEWER))
    assert api.get("/flows/name/etl", **key).status_code == 200
    assert api.post("/flows/filter", {}, **key).status_code == 200
    assert api.post("/flows/count", {}, **key).json() == 1
    assert api.post("/flow_runs/history", _history(), **key).status_code == 200
    refused = api.post("/flows/", {"name": "new"}, **key)
    assert refused.status_code == 403
    assert refused.json()["detail"].endswith("POST /api/flows/ needs runner.")
    assert api.patch(f"/flows/{Flow.objects.get().id}", {"tags": ["x"]}, **key).status_code == 403
    assert api.delete(f"/flows/{Flow.objects.get().id}", **key).status_code == 403
    assert Flow.objects.count() == 1


def _history() -> dict[str, Any]:
    now = timezone.now()
    return {
        "history_start": (now - timedelta(hours=1)).isoformat(),
        "history_end": now.isoformat(),
        "history_interval_seconds": 600,
    }


def test_admin_key_may_clear_the_database(api: ApiClient, keyed: Any, make_key: Any) -> None:
    Flow.objects.create(name="etl", workspace_id=DEFAULT_WORKSPACE_ID)
    key = bearer(make_key(Role.ADMIN))
    assert api.get("/admin/settings", **key).status_code == 200
    assert api.post("/admin/database/clear", {"confirm": True}, **key).status_code == 204
    assert Flow.objects.count() == 0


def test_revoked_and_expired_keys_are_403(api: ApiClient, keyed: Any, make_key: Any) -> None:
    revoked = make_key()
    assert api.get("/flows/", **bearer(revoked)).status_code == 200
    api_key_revoke(workspace_id=DEFAULT_WORKSPACE_ID, name="key-0")
    response = api.get("/flows/", **bearer(revoked))
    assert (response.status_code, response.json()) == (403, {"detail": "The API key 'key-0' has been revoked."})

    expired = make_key(expires=timezone.now() + timedelta(seconds=30))
    ApiKey.objects.filter(name="key-1").update(expires=timezone.now() - timedelta(seconds=1))
    keyed.ORION_API_KEY_CACHE_SECONDS = 0
    response = api.get("/flows/", **bearer(expired))
    assert response.status_code == 403
    assert response.json()["detail"].startswith("The API key 'key-1' expired at ")


def test_revocation_elsewhere_takes_effect_within_the_cache_ttl(
    api: ApiClient, keyed: Any, make_key: Any, monkeypatch: Any
) -> None:
    raw = make_key()
    clock = [1000.0]
    monkeypatch.setattr("access_app.selectors.time.monotonic", lambda: clock[0])
    assert api.get("/flows/", **bearer(raw)).status_code == 200
    # Another process revokes the key: this one still has it cached ...
    ApiKey.objects.update(revoked=timezone.now())
    assert api.get("/flows/", **bearer(raw)).status_code == 200
    # ... until the TTL (ORION_API_KEY_CACHE_SECONDS, 5 s) has passed.
    clock[0] += keyed.ORION_API_KEY_CACHE_SECONDS + 0.1
    assert api.get("/flows/", **bearer(raw)).status_code == 403


def test_without_a_key_the_session_decides(api: ApiClient, keyed: Any, monkeypatch: Any) -> None:
    """The signed-in dashboard's session (access_app.sessions) is the other credential;
    its principal's role applies as a key's does."""
    asked: list[int] = []

    def viewer_session(request: Any, *, workspace_id: int) -> Principal:
        asked.append(workspace_id)
        return Principal(kind="user", name="alice", role=Role.VIEWER, workspace_id=workspace_id, user_id=7)

    monkeypatch.setattr("access_app.sessions.session_principal", viewer_session)
    assert api.get("/flows/").status_code == 200
    refused = api.patch(f"/flows/{FlowFactory().id}", {"tags": ["x"]})
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("The user 'alice' has the viewer role in the workspace 'default';")
    assert asked == [DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_ID]
    monkeypatch.setattr("access_app.sessions.session_principal", lambda request, *, workspace_id: None)
    assert api.get("/flows/").status_code == 401


def test_a_signed_in_session_reads_but_needs_a_csrf_token_to_write(api: ApiClient, keyed: Any) -> None:
    """The signed-in dashboard's session is a credential (tests/ui/test_dashboard.py), but
    no write passes without the CSRF token, and clearing the database never does."""
    user = User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests")
    api.client.force_login(user)
    assert api.get("/flows/").status_code == 200
    assert api.post("/admin/database/clear", {"confirm": True}).status_code == 403


def test_keys_are_stored_only_as_a_hash(keyed: Any, make_key: Any) -> None:
    raw = make_key()
    key = ApiKey.objects.get()
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(key.prefix) and len(key.prefix) < len(raw) // 3
    stored = [str(value) for value in ApiKey.objects.values_list().get()]
    assert not any(raw in value for value in stored)


def test_one_lookup_per_request_and_last_used_written_once_a_minute(
    api: ApiClient, keyed: Any, make_key: Any, monkeypatch: Any
) -> None:
    raw = make_key()
    keyed.ORION_API_KEY_CACHE_SECONDS = 0  # no cache: every request looks the key up
    clock = [1000.0]
    monkeypatch.setattr("access_app.selectors.time.monotonic", lambda: clock[0])

    def key_queries() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/flows/", **bearer(raw)).status_code == 200
        return [query["sql"].split()[0] for query in queries if "access_app_apikey" in query["sql"]]

    assert key_queries() == ["SELECT", "UPDATE"]  # first use is recorded
    first_use = ApiKey.objects.get().last_used
    assert first_use is not None
    clock[0] += 30
    assert key_queries() == ["SELECT"]  # one indexed lookup, no write
    clock[0] += 31
    assert key_queries() == ["SELECT", "UPDATE"]  # a minute later: written again (conditionally)


def test_cached_key_costs_no_query(api: ApiClient, keyed: Any, make_key: Any) -> None:
    raw = make_key()
    api.get("/flows/", **bearer(raw))
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/flows/", **bearer(raw)).status_code == 200
    assert not [query for query in queries if "access_app_apikey" in query["sql"]]
