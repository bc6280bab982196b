"""``manage.py orion_ui``: the UI folder of a prefect wheel, and nothing else, lands in the data directory."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.ui.conftest import build_fake_wheel


def test_install_downloads_with_pip_and_extracts_only_the_ui(tmp_path: Path, ui_dir: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    build_fake_wheel(links)
    out = StringIO()
    # pip itself fetches the wheel, from a local directory instead of the index (no network).
    call_command("orion_ui", "install", "--version", "2.20.26", "--find-links", str(links), stdout=out)

    assert "Prefect UI 2.20.26: 3 files from prefect/server/ui/" in out.getvalue()
    files = sorted(str(p.relative_to(ui_dir)) for p in ui_dir.rglob("*") if p.is_file())
    assert files == [
        ".orion-ui.json",
        "assets/index-AbCd1234.js",
        "ico/favicon-32x32.png",
        "index.html",
    ]
    # The serve-base placeholder is kept (the server replaces it per base); the stamp lists
    # the files holding it, which are not precompressed as stored.
    assert "/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER/assets/" in (ui_dir / "index.html").read_text()
    stamp = json.loads((ui_dir / ".orion-ui.json").read_text())
    assert (stamp["version"], stamp["folder"], stamp["files"]) == ("2.20.26", "prefect/server/ui/", 3)
    assert stamp["templated"] == ["/assets/index-AbCd1234.js", "/index.html"]
    assert not list(ui_dir.parent.glob(".ui.*")), "no staging directory is left behind"


def test_install_of_a_2_7_wheel_takes_the_orion_ui_folder(tmp_path: Path, ui_dir: Path) -> None:
    wheel = build_fake_wheel(tmp_path, version="2.7.12", folder="prefect/orion/ui/")
    call_command("orion_ui", "install", "--version", "2.7.12", "--wheel", str(wheel), stdout=StringIO())
    assert (ui_dir / "index.html").exists()
    assert json.loads((ui_dir / ".orion-ui.json").read_text())["folder"] == "prefect/orion/ui/"


def test_reinstall_replaces_the_previous_ui(tmp_path: Path, ui_dir: Path) -> None:
    wheel = build_fake_wheel(tmp_path)
    ui_dir.mkdir(parents=True)
    (ui_dir / "stale.js").write_text("old")
    call_command("orion_ui", "install", "--wheel", str(wheel), stdout=StringIO())
    assert not (ui_dir / "stale.js").exists()
    assert (ui_dir / "index.html").exists()


def test_install_fails_clearly_when_pip_finds_no_wheel(tmp_path: Path, ui_dir: Path) -> None:
    with pytest.raises(CommandError, match=r"Could not download prefect==2\.20\.26"):
        call_command("orion_ui", "install", "--find-links", str(tmp_path), stdout=StringIO())
    assert not ui_dir.exists()


def test_ensure_only_warns_when_the_download_fails(tmp_path: Path, ui_dir: Path) -> None:
    err = StringIO()
    call_command("orion_ui", "ensure", "--find-links", str(tmp_path), stdout=StringIO(), stderr=err)
    assert "The Prefect UI is not installed" in err.getvalue()
    assert "manage.py orion_ui install --version 2.20.26" in err.getvalue()


def test_ensure_keeps_an_installed_ui_and_status_reports_it(tmp_path: Path, ui_dir: Path) -> None:
    call_command("orion_ui", "install", "--wheel", str(build_fake_wheel(tmp_path)), stdout=StringIO())
    out = StringIO()
    call_command("orion_ui", "ensure", "--find-links", str(tmp_path / "nowhere"), stdout=out)
    call_command("orion_ui", "status", stdout=out)
    assert out.getvalue().splitlines() == [
        f"Prefect UI 2.20.26 is installed at {ui_dir}.",
        f"Prefect UI 2.20.26 at {ui_dir}",
    ]


def test_a_wheel_without_a_ui_is_refused(tmp_path: Path, ui_dir: Path) -> None:
    import zipfile

    wheel = tmp_path / "prefect-2.20.26-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("prefect/__init__.py", "")
    with pytest.raises(CommandError, match="holds no Prefect UI"):
        call_command("orion_ui", "install", "--wheel", str(wheel), stdout=StringIO())
