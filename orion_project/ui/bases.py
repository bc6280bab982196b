"""The UI files that name their own base path, rendered once per base and kept.

The built UI refers to itself through a placeholder (the index page's script tags, the
router's history base, the loader of lazy chunks, one stylesheet URL). The reference
replaces it once, for its single ``PREFECT_UI_SERVE_BASE``; this server serves the same
files under ``/`` (the workspace ``default``) and under ``/workspace/<slug>/``, so each
base gets its own rendering of those few files (three in 2.20: the index page, the main
bundle, its stylesheet), made on the first request for that base and kept in memory,
gzipped, for as long as the install. Every other file is the same under every base and is
served from disk (``orion_project.ui.middleware``).

Renderings live in memory rather than as copies on disk written at install time, since a
copy per base written then would miss the workspaces created after the install; only the
gzipped bytes are kept (every browser accepts gzip), the raw bytes once a client that
refuses gzip asks. Only bases of existing workspaces are rendered (the middleware checks
the slug first), so what is kept is bounded by the number of workspaces. The cost of a
rendering is in docs/performance.md ("The dashboard per workspace").
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from orion_project.ui.install import BASE_PLACEHOLDER

INDEX_URL = "/index.html"
IMMUTABLE = "max-age=315360000, public, immutable"
REVALIDATE = "no-cache"


@dataclass
class RenderedFile:
    """One templated file with the placeholder replaced by a base."""

    gzipped: bytes
    etag: str
    content_type: str
    cache_control: str
    _raw: bytes | None = field(default=None, repr=False)

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = gzip.decompress(self.gzipped)
        return self._raw

    def response(self, request: HttpRequest) -> HttpResponse:
        """The file for ``request`` (gzipped when accepted; 304 when the client has it)."""
        if request.headers.get("If-None-Match") == self.etag:
            response = HttpResponse(status=304)
        else:
            accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
            content = self.gzipped if accepts_gzip else self.raw()
            response = HttpResponse(b"" if request.method == "HEAD" else content, content_type=self.content_type)
            response["Content-Length"] = str(len(content))
            if accepts_gzip:
                response["Content-Encoding"] = "gzip"
        response["ETag"] = self.etag
        response["Cache-Control"] = self.cache_control
        patch_vary_headers(response, ["Accept-Encoding"])
        return response


def content_type_of(url: str) -> str:
    guessed, _ = mimetypes.guess_type(url)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") or guessed.endswith("javascript") else guessed


class Renderings:
    """The templated files of one install, rendered per base on demand."""

    def __init__(self, root: Path, templated: frozenset[str], *, immutable: frozenset[str]) -> None:
        self.root = root
        self.templated = templated
        self.immutable = immutable
        self.kept: dict[tuple[str, str], RenderedFile] = {}
        self.lock = threading.Lock()

    def get(self, base: str, url: str) -> RenderedFile:
        """``url`` (one of ``templated``) rendered for ``base`` (``""`` or ``/workspace/x``)."""
        key = (base, url)
        found = self.kept.get(key)
        if found is not None:
            return found
        with self.lock:
            found = self.kept.get(key)
            if found is None:
                found = self.kept[key] = self.render(base, url)
        return found

    def render(self, base: str, url: str) -> RenderedFile:
        data = (self.root / url.lstrip("/")).read_bytes().replace(BASE_PLACEHOLDER, base.encode())
        return RenderedFile(
            gzipped=gzip.compress(data, compresslevel=9, mtime=0),
            etag=f'"{hashlib.sha256(data).hexdigest()[:32]}"',
            content_type=content_type_of(url),
            cache_control=IMMUTABLE if url in self.immutable else REVALIDATE,
        )
