"""Install the Prefect UI: download the ``prefect`` wheel with pip, extract its UI folder.

Nothing but the static UI is kept: the wheel is downloaded without dependencies into a
temporary directory, only the members under the UI folder are written, into
``<ORION_DATA_DIR>/ui``. The base-path placeholder baked into the built files is kept: the
server replaces it per base the UI is served under (``/`` and ``/workspace/<slug>``, see
``orion_project.ui.bases``), so the stamp lists the files that hold it. The new tree is built beside the old one and swapped in by renames, so a running server
never serves half an install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.utils import timezone
from whitenoise.compress import Compressor

DEFAULT_VERSION = "2.20.26"
# Where the built UI sits in the wheel: 2.20.x, then 2.7.x.
UI_FOLDERS = ("prefect/server/ui/", "prefect/orion/ui/")
# The reference replaces this in every text file with its serve base (PREFECT_UI_SERVE_BASE).
BASE_PLACEHOLDER = b"/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER"
TEXT_SUFFIXES = frozenset({".html", ".js", ".css", ".json", ".webmanifest", ".txt", ".svg", ".map"})
# Written last into the installed tree; the server watches it to pick up a new install.
STAMP_NAME = ".orion-ui.json"


class UiInstallError(Exception):
    """The wheel could not be fetched or holds no UI folder (message for the operator)."""


@dataclass(frozen=True)
class InstalledUi:
    version: str
    folder: str
    files: int
    path: Path


def download_wheel(*, version: str, dest: Path, find_links: str | None = None) -> Path:
    """``pip download --no-deps prefect==version`` into ``dest``; the wheel's path.

    With ``find_links`` pip looks only there (a directory of wheels; no index, no network).
    """
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--dest", str(dest), f"prefect=={version}",
    ]  # fmt: skip
    if find_links is not None:
        command += ["--no-index", "--find-links", find_links]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("prefect-*.whl"))
    if completed.returncode != 0 or not wheels:
        output = (completed.stderr or completed.stdout).strip().splitlines()
        reason = output[-1] if output else f"pip exited with status {completed.returncode}"
        raise UiInstallError(f"Could not download prefect=={version}: {reason}")
    return wheels[0]


def ui_folder_of(archive: zipfile.ZipFile) -> str:
    """The UI folder inside the wheel (its name changed between 2.7 and 2.20)."""
    names = archive.namelist()
    for folder in UI_FOLDERS:
        if f"{folder}index.html" in names:
            return folder
    raise UiInstallError("The wheel holds no Prefect UI (no prefect/server/ui or prefect/orion/ui folder).")


def extract_ui(*, wheel: Path, target: Path, version: str) -> InstalledUi:
    """Write the wheel's UI folder to ``target`` (replacing what is there) and return it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with zipfile.ZipFile(wheel) as archive:
            folder = ui_folder_of(archive)
            count = 0
            templated: list[str] = []
            for member in archive.infolist():
                if member.is_dir() or not member.filename.startswith(folder):
                    continue
                relative = PurePosixPath(member.filename[len(folder) :])
                if relative.is_absolute() or ".." in relative.parts:
                    raise UiInstallError(f"Refusing a wheel member outside the UI folder: {member.filename}")
                data = archive.read(member)
                if relative.suffix in TEXT_SUFFIXES and BASE_PLACEHOLDER in data:
                    templated.append(f"/{relative}")
                destination = staging.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(data)
                count += 1
        _precompress(staging, skip=frozenset(templated))
        stamp = {
            "version": version,
            "folder": folder,
            "files": count,
            "templated": sorted(templated),
            "installed": timezone.now().isoformat(),
        }
        (staging / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n")
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return InstalledUi(version=version, folder=folder, files=count, path=target)


def _precompress(root: Path, *, skip: frozenset[str]) -> None:
    """Write ``.gz`` (and ``.br`` when brotli is installed) beside each compressible file,
    which the static file server then sends to clients that accept them. The ``skip``
    files (holding the base placeholder) are never sent as they are stored."""
    compressor = Compressor(quiet=True)
    for path in sorted(root.rglob("*")):
        if f"/{path.relative_to(root).as_posix()}" in skip:
            continue
        if path.is_file() and compressor.should_compress(path.name):
            for _ in compressor.compress(str(path)):
                pass


def _swap_in(staging: Path, target: Path) -> None:
    staging.chmod(0o755)
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def install_ui(*, version: str, target: Path, wheel: Path | None = None, find_links: str | None = None) -> InstalledUi:
    """Fetch ``prefect==version`` (or use ``wheel``) and install its UI at ``target``."""
    if wheel is not None:
        return extract_ui(wheel=wheel, target=target, version=version)
    with tempfile.TemporaryDirectory(prefix="orion-ui-") as tmp:
        downloaded = download_wheel(version=version, dest=Path(tmp), find_links=find_links)
        return extract_ui(wheel=downloaded, target=target, version=version)


def installed_ui(target: Path) -> dict[str, object] | None:
    """What is installed at ``target`` (the stamp), or ``None``. An install from before
    per-workspace serving (no ``templated`` list: its placeholder was replaced) counts as
    none, so ``orion_ui ensure`` installs it again."""
    try:
        stamp = dict(json.loads((target / STAMP_NAME).read_text()))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp.get("templated"), list) else None
