"""A small fake ``prefect`` wheel holding a UI folder, and a UI directory per test."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
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
