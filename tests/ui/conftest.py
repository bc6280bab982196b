"""A small fake ``prefect`` wheel holding a UI folder, and a UI directory per test."""

from __future__ import annotations

import zipfile
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

INDEX_HTML = (
    '<!DOCTYPE html><html><head><script type="module" '
    'src="/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER/assets/index-AbCd1234.js"></script></head>'
    '<body><div id="app"></div></body></html>'
)
ASSET_JS = 'const base=function(){return"/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER"};' + "console.log(1);" * 200


def build_fake_wheel(directory: Path, *, version: str = "2.20.26", folder: str = "prefect/server/ui/") -> Path:
    """A wheel pip accepts (name, version, metadata) with a UI folder and some other code."""
    wheel = directory / f"prefect-{version}-py3-none-any.whl"
    dist_info = f"prefect-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("prefect/__init__.py", "__version__ = 'fake'\n")
        archive.writestr(f"{folder}index.html", INDEX_HTML)
        archive.writestr(f"{folder}assets/index-AbCd1234.js", ASSET_JS)
        archive.writestr(f"{folder}ico/favicon-32x32.png", b"\x89PNG fake")
        archive.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: prefect\nVersion: {version}\n")
        archive.writestr(
            f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{dist_info}/RECORD", "")
    return wheel


@pytest.fixture
def ui_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``ORION_UI_DIR`` pointed at an empty directory of this test."""
    target = tmp_path / "data" / "ui"
    with override_settings(ORION_UI_DIR=target):
        yield target


@pytest.fixture
def installed(tmp_path: Path, ui_dir: Path, db: None) -> Path:
    """The fake wheel's UI installed in this test's ``ORION_UI_DIR``."""
    call_command("orion_ui", "install", "--wheel", str(build_fake_wheel(tmp_path)), stdout=StringIO())
    return ui_dir


def served_at(base: str, path: Path) -> bytes:
    """An installed file as served under ``base``: its placeholder replaced by the base."""
    return path.read_bytes().replace(b"/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER", base.encode())


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else bytes(response.content)
