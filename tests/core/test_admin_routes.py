"""``/api/admin``: settings with secrets hidden, and the confirmed database reset that each app
registers its part of."""

from __future__ import annotations

from typing import Any

from flows_app.models import Flow, WorkPool
from tests.factories import FlowFactory
from tests.helpers import ApiClient


def test_admin_settings_hide_secrets(api: ApiClient) -> None:
    settings = api.get("/admin/settings").json()
    assert settings["PREFECT_ORION_API_DEFAULT_LIMIT"] == 200
    assert settings["PREFECT_ORION_DATABASE_CONNECTION_URL"] == "********"
    assert settings["DJANGO_SECRET_KEY"] == "********"


def test_admin_database_routes_need_confirmation(api: ApiClient, settings: Any) -> None:
    settings.DEBUG = True  # without it (or an admin key) clear/drop answer 403: tests/access/
    FlowFactory()
    for route in ("clear", "drop", "create"):
        refused = api.post(f"/admin/database/{route}", {})
        assert (refused.status_code, refused.content) == (400, b"")
    assert api.post("/admin/database/clear", {"confirm": True}).status_code == 204
    # Clear empties the request's workspace (the default agent pool comes back lazily);
    # the block types are the server's shared catalogue and stay.
    assert Flow.objects.count() == 0
    assert not WorkPool.objects.exists()
    assert api.get("/block_types/slug/local-file-system").status_code == 200
    assert api.post("/admin/database/create", {"confirm": True}).status_code == 204
