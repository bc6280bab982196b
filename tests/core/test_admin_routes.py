"""``/api/admin``: settings with secrets hidden, and the confirmed database reset that each app
registers its part of."""

from __future__ import annotations

from flows_app.models import Flow, WorkPool
from tests.factories import FlowFactory
from tests.helpers import ApiClient


def test_admin_settings_hide_secrets(api: ApiClient) -> None:
    settings = api.get("/admin/settings").json()
    assert settings["PREFECT_ORION_API_DEFAULT_LIMIT"] == 200
    assert settings["PREFECT_ORION_DATABASE_CONNECTION_URL"] == "********"
    assert settings["DJANGO_SECRET_KEY"] == "********"


def test_admin_database_routes_need_confirmation(api: ApiClient) -> None:
    FlowFactory()
    for route in ("clear", "drop", "create"):
        refused = api.post(f"/admin/database/{route}", {})
        assert (refused.status_code, refused.content) == (400, b"")
    assert api.post("/admin/database/clear", {"confirm": True}).status_code == 204
    assert Flow.objects.count() == 0
    assert WorkPool.objects.get(name="default-agent-pool").default_queue is not None
    assert api.get("/block_types/slug/local-file-system").status_code == 200  # re-seeded
    assert api.post("/admin/database/create", {"confirm": True}).status_code == 204
