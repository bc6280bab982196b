"""Serve the installed Prefect UI's files at ``/`` and at ``/workspace/<slug>/`` (whitenoise).

Files are looked up in a table built from the UI folder. The few files that name their base
path (``orion_project.ui.bases``) are rendered per base; all others are the same bytes
under every base. Page routes of the UI (a GET for a path that is no file, such as
``/workspace/team-a/flow-runs/flow-run/<id>``, the link the client prints) are not
answered here: they go on to the dashboard views, which ask for sign-in and membership
before answering with the index page (:func:`index_response`). Paths of the server itself
(the API, the admin, the docs, static files) are never touched. A new install is picked
up without a restart: the table is rebuilt when the install stamp changes.

Hashed build assets (``assets/index-BjFilUfY.js``) are cached for good; ``index.html``
and the other unhashed files must be revalidated, so a new install shows at once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from whitenoise.base import WhiteNoise
from whitenoise.middleware import WhiteNoiseMiddleware

from orion_project.ui.bases import INDEX_URL, Renderings
from orion_project.ui.install import STAMP_NAME
from orion_project.workspaces import workspace_by_slug

# The server's own paths: never a UI file, never the fallback.
SERVER_PREFIXES = ("/api/", "/api", "/admin", "/static/", "/docs", "/redoc", "/ui-settings")
# Where the dashboard of a workspace other than ``default`` is served: the address both
# stock clients derive from ``PREFECT_API_URL=.../api/workspaces/<slug>``.
WORKSPACE_UI_PREFIX = "/workspace/"
# Vite names every built chunk ``<name>-<8 character hash>.<ext>``.
HASHED_ASSET = re.compile(r"^/assets/.+-[A-Za-z0-9_-]{8}\.[a-z0-9]+$")


def _no_cache_unless_hashed(headers: Any, path: str, url: str) -> None:
    if not HASHED_ASSET.match(url):
        headers["Cache-Control"] = "no-cache"


class UiFiles:
    """The UI folder's files, rebuilt when a new install's stamp appears."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stamp: float | None = None
        self.table: WhiteNoise | None = None
        self.renderings: Renderings | None = None

    def current(self) -> tuple[WhiteNoise, Renderings] | None:
        try:
            stamp = os.stat(self.root / STAMP_NAME).st_mtime
        except OSError:
            self.stamp, self.table, self.renderings = None, None, None
            return None
        if stamp != self.stamp or self.table is None or self.renderings is None:
            try:
                templated = frozenset(json.loads((self.root / STAMP_NAME).read_text())["templated"])
            except (OSError, ValueError, KeyError, TypeError):
                return None  # an install from before per-workspace serving: reinstall
            table = WhiteNoise(
                None,
                index_file=False,
                immutable_file_test=lambda path, url: bool(HASHED_ASSET.match(url)),
                add_headers_function=_no_cache_unless_hashed,
            )
            table.add_files(str(self.root), prefix="/")
            immutable = frozenset(url for url in templated if HASHED_ASSET.match(url))
            self.stamp, self.table = stamp, table
            self.renderings = Renderings(self.root, templated, immutable=immutable)
        return self.table, self.renderings


_FILES: dict[Path, UiFiles] = {}


def ui_files() -> UiFiles:
    """The files of the UI installed at ``ORION_UI_DIR`` (one table per folder and process)."""
    root = Path(settings.ORION_UI_DIR)
    files = _FILES.get(root)
    if files is None:
        files = _FILES[root] = UiFiles(root)
    return files


def ui_installed() -> bool:
    return ui_files().current() is not None


def split_ui_path(path: str) -> tuple[str | None, str, str]:
    """``/workspace/team-a/assets/x.js`` → ``("team-a", "/workspace/team-a", "/assets/x.js")``;
    ``/assets/x.js`` → ``(None, "", "/assets/x.js")`` (the workspace ``default``)."""
    if path.startswith(WORKSPACE_UI_PREFIX):
        slug, _, rest = path[len(WORKSPACE_UI_PREFIX) :].partition("/")
        return slug, f"{WORKSPACE_UI_PREFIX}{slug}", f"/{rest}"
    return None, "", path


def index_response(request: HttpRequest, base: str) -> HttpResponse | None:
    """The UI's index page for ``base`` (``""`` or ``/workspace/<slug>``), or ``None``
    when no UI is installed. The caller has checked who may see it."""
    current = ui_files().current()
    if current is None:
        return None
    return current[1].get(base, INDEX_URL).response(request)


class PrefectUiMiddleware:
    """Answer UI file paths from the installed UI; everything else goes on to Django."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        served = self.serve(request) if request.method in ("GET", "HEAD") else None
        return served if served is not None else self.get_response(request)

    @staticmethod
    def serve(request: HttpRequest) -> HttpResponse | None:
        slug, base, url = split_ui_path(request.path_info)
        if url.startswith(SERVER_PREFIXES) or url in ("/", INDEX_URL):
            return None
        current = ui_files().current()
        if current is None:
            return None
        table, renderings = current
        if url in renderings.templated:
            # Rendered only for a workspace that exists, so the kept renderings stay bounded.
            if slug is not None and workspace_by_slug(slug) is None:
                return None
            return renderings.get(base, url).response(request)
        static_file = table.files.get(url)
        if static_file is None:
            return None
        return WhiteNoiseMiddleware.serve(static_file, request)


def is_page_route(path: str) -> bool:
    """A path answered with the index page, as the reference does for every path it has
    no file for (the 2.20 UI itself asks for ``/ico/undefined.svg``), except a missing
    build chunk: that is a 404, so a stale chunk fails loudly, not as a MIME-type error."""
    return not path.startswith("/assets/")
