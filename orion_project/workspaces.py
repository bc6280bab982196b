"""Which workspace a request is for: resolved once at the door, then passed down.

``/api/workspaces/<slug>/...`` is the API of workspace ``<slug>`` (the address Prefect
Cloud gives a workspace, and the one the stock clients take as ``PREFECT_API_URL``);
``/api/...`` is the API of the workspace ``default``, so installations from before
workspaces keep their URLs. :class:`WorkspaceDoorMiddleware` sets ``request.workspace``
(a :class:`WorkspaceRef`) and hands the request on with the prefix removed, so every
route is declared once. Views pass ``workspace_id`` to selectors and services as a
keyword argument; nothing below the view reads it from anywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from orion_project.models import DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_SLUG, WORKSPACE_SLUG_PATTERN, Workspace

WORKSPACE_API_PREFIX = "/api/workspaces/"
_SLUG = re.compile(f"^{WORKSPACE_SLUG_PATTERN}$")


@dataclass(frozen=True)
class WorkspaceRef:
    """The workspace a request is for: its id (what queries filter by) and slug (what
    URLs and messages name)."""

    id: int
    slug: str

    @property
    def api_prefix(self) -> str:
        """The path the workspace's API is served under."""
        return "/api" if self.id == DEFAULT_WORKSPACE_ID else f"{WORKSPACE_API_PREFIX}{self.slug}"


DEFAULT_WORKSPACE = WorkspaceRef(DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_SLUG)


def workspace_by_slug(slug: str) -> WorkspaceRef | None:
    """The workspace with this slug, or ``None``; one indexed read, no ORM compile (it
    runs on every request under ``/api/workspaces/``)."""
    if not _SLUG.match(slug):
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, slug FROM {Workspace._meta.db_table} WHERE slug = %s", [slug])
        row = cursor.fetchone()
    return None if row is None else WorkspaceRef(row[0], row[1])


def split_workspace_path(path: str) -> tuple[str, str] | None:
    """``/api/workspaces/team-a/flows/`` → ``("team-a", "/api/flows/")``; ``None`` for a
    path outside ``/api/workspaces/``."""
    if not path.startswith(WORKSPACE_API_PREFIX):
        return None
    slug, _, rest = path[len(WORKSPACE_API_PREFIX) :].partition("/")
    return slug, f"/api/{rest}"


class WorkspaceDoorMiddleware:
    """Resolve the workspace of an ``/api`` request (404 for an unknown slug) and route
    the request as the un-prefixed path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        split = split_workspace_path(request.path_info)
        if split is not None:
            slug, path = split
            workspace = workspace_by_slug(slug)
            if workspace is None:
                return JsonResponse({"detail": f"Workspace {slug!r} not found."}, status=404)
            request.workspace = workspace  # type: ignore[attr-defined]
            request.workspace_path = request.path  # type: ignore[attr-defined]
            request.path_info = path
            request.path = f"{request.META.get('SCRIPT_NAME', '').rstrip('/')}{path}"
        elif request.path_info.startswith("/api/"):
            request.workspace = DEFAULT_WORKSPACE  # type: ignore[attr-defined]
        return self.get_response(request)
