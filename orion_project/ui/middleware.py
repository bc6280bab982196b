"""Serve the installed Prefect UI at ``/`` (whitenoise), with the single-page-app fallback.

Files are looked up in a table built from the UI folder; a page route of the UI (a GET
for a path that is no file, such as ``/flow-runs/flow-run/<id>``, the link the client
prints) gets ``index.html`` and the UI's router takes over. Paths of the server itself
(the API, the admin, the docs, static files) are never touched. A new install is picked
up without a restart: the table is rebuilt when the install stamp changes.

Hashed build assets (``assets/index-BjFilUfY.js``) are cached for good; ``index.html``
and the other unhashed files must be revalidated, so a new install shows at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from whitenoise.base import WhiteNoise
from whitenoise.middleware import WhiteNoiseMiddleware

from orion_project.ui.install import STAMP_NAME

# The server's own paths: never a UI file, never the fallback.
SERVER_PREFIXES = ("/api/", "/api", "/admin", "/static/", "/docs", "/redoc", "/ui-settings")
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

    def current(self) -> WhiteNoise | None:
        try:
            stamp = os.stat(self.root / STAMP_NAME).st_mtime
        except OSError:
            self.stamp, self.table = None, None
            return None
        if stamp != self.stamp:
            table = WhiteNoise(
                None,
                index_file=True,
                immutable_file_test=lambda path, url: bool(HASHED_ASSET.match(url)),
                add_headers_function=_no_cache_unless_hashed,
            )
            table.add_files(str(self.root), prefix="/")
            self.stamp, self.table = stamp, table
        return self.table


class PrefectUiMiddleware:
    """Answer UI paths from the installed UI; everything else goes on to Django."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.files = UiFiles(Path(settings.ORION_UI_DIR))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if request.method not in ("GET", "HEAD") or path.startswith(SERVER_PREFIXES):
            return self.get_response(request)
        table = self.files.current()
        if table is None:
            return self.get_response(request)
        static_file = table.files.get(path)
        if static_file is None and is_page_route(path):
            static_file = table.files.get("/")
        if static_file is None:
            return self.get_response(request)
        return WhiteNoiseMiddleware.serve(static_file, request)


def is_page_route(path: str) -> bool:
    """A path answered with the index page, as the reference does for every path it has
    no file for (the 2.20 UI itself asks for ``/ico/undefined.svg``), except a missing
    build chunk: that is a 404, so a stale chunk fails loudly, not as a MIME-type error."""
    return not path.startswith("/assets/")
