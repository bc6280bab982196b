"""The installed UI at ``/``: files, the single-page-app fallback, cache headers, ``/ui-settings``."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from tests.ui.conftest import body, build_fake_wheel, served_at


def test_without_a_ui_the_root_is_a_landing_page(client: Client, ui_dir: Path) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for link in ('href="/admin/"', 'href="/docs"', 'href="/redoc"'):
        assert link in page
    assert "manage.py orion_ui install --version 2.20.26" in page
    # A deep link of the UI is then a plain 404.
    assert client.get("/flow-runs/flow-run/5b7f0d5e").status_code == 404


def test_the_root_serves_the_ui_index_revalidated(client: Client, installed: Path) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-cache"
    assert body(response) == served_at("", installed / "index.html")


def test_a_deep_link_gets_the_index_page(client: Client, installed: Path) -> None:
    """The run link the client prints opens the UI, whose router shows the run."""
    response = client.get("/flow-runs/flow-run/8f8d0c55-1f37-4f5a-9c51-43a4b0a3b0f4")
    assert response.status_code == 200
    assert body(response) == served_at("", installed / "index.html")
    assert client.get("/deployments?tab=Runs").status_code == 200


def test_hashed_assets_are_cached_for_good_and_sent_compressed(client: Client, installed: Path) -> None:
    response = client.get("/assets/index-AbCd1234.js", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=315360000, public, immutable"
    assert response["Content-Encoding"] == "gzip"
    assert response["Content-Type"].startswith("text/javascript")
    plain = client.get("/assets/index-AbCd1234.js")
    assert "Content-Encoding" not in plain
    assert body(plain) == served_at("", installed / "assets/index-AbCd1234.js")
    assert client.get("/ico/favicon-32x32.png")["Cache-Control"] == "no-cache"


def test_a_missing_asset_is_a_404_not_the_index(client: Client, installed: Path) -> None:
    assert client.get("/assets/index-Gone0000.js").status_code == 404
    # Other missing files get the index page, as from the reference server.
    assert body(client.get("/ico/undefined.svg")) == served_at("", installed / "index.html")


def test_server_paths_are_never_the_ui(client: Client, installed: Path, db: None) -> None:
    assert client.get("/api/health").json() is True
    assert client.get("/api/no-such-route").status_code == 404
    assert client.get("/admin/").status_code == 302
    assert client.get("/docs").status_code == 200
    # Writes never fall back to the index page.
    assert client.post("/flow-runs/flow-run/x").status_code == 404


def test_a_new_install_is_served_without_a_restart(client: Client, tmp_path: Path, ui_dir: Path, db: None) -> None:
    assert b"orion_ui install" in client.get("/").content
    call_command("orion_ui", "install", "--wheel", str(build_fake_wheel(tmp_path)), stdout=StringIO())
    assert body(client.get("/")) == served_at("", ui_dir / "index.html")


def test_ui_settings_answer_as_the_2_20_reference(client: Client, db: None) -> None:
    """The 2.20 server answers ``/ui-settings`` with a relative ``/api`` and its feature flags
    (with events on, ``automations`` too; it lists them from a set, in no fixed order)."""
    answer = client.get("/ui-settings").json()
    answer["flags"] = sorted(answer["flags"])
    assert answer == {
        "api_url": "/api",
        "csrf_enabled": False,
        "flags": sorted(
            [
                "deployment_status",
                "artifacts",
                "states_on_flow_run_graph",
                "artifacts_on_flow_run_graph",
                "workspace_dashboard",
                "enhanced_cancellation",
                "work_queue_status",
                "workers",
                "work_pools",
                "automations",
            ]
        ),
    }


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/api/docs"])
def test_api_docs_pages_reference_nothing_outside_this_server(client: Client, path: str) -> None:
    """Swagger UI and ReDoc load their scripts, styles and fonts from here (the browser
    suite also checks what they fetch at run time)."""
    import re

    page = client.get(path).content.decode()
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page)
    assert external == []
    assert "fonts.googleapis.com" not in page


def test_redoc_bundle_draws_no_logo_from_its_cdn(client: Client) -> None:
    """ReDoc's sidebar footer shows Redocly's logo from cdn.redoc.ly (no setting hides
    it); the page loads its bundle from this server with that URL blanked out."""
    page = client.get("/redoc").content.decode()
    assert '<script src="/redoc/redoc.standalone.js">' in page
    response = client.get("/redoc/redoc.standalone.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    bundle = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"Redoc" in bundle and len(bundle) > 100_000
    assert b"cdn.redoc.ly" not in bundle
