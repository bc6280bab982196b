"""The UI's own server routes: ``/`` while no UI is installed, and ``ui-settings``."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from orion_project.models import DEFAULT_WORKSPACE_SLUG
from orion_project.ui.install import DEFAULT_VERSION
from orion_project.workspaces import workspace_by_slug

# The UI features the 2.20 reference switches on (its ``/ui-settings`` flags, with events
# and automations on); the UI hides the pages of a feature that is not listed.
UI_FLAGS = (
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
)


def landing(request: HttpRequest) -> HttpResponse:
    """A small page linking the admin, the API docs and the UI install command."""
    context = {"ui_dir": settings.ORION_UI_DIR, "default_version": DEFAULT_VERSION}
    return render(request, "orion_ui/landing.html", context)


def ui_settings(request: HttpRequest, slug: str = DEFAULT_WORKSPACE_SLUG) -> JsonResponse:
    """``GET /ui-settings`` and ``GET /workspace/<slug>/ui-settings`` (the UI asks below its
    own base): where the UI finds its workspace's API, in the 2.20 reference's shape (its
    ``api_url`` is relative to the page). With ``ORION_AUTH=api-key`` the dashboard's API
    calls ride on the sign-in session, so the UI is told to send CSRF tokens."""
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"detail": "Method Not Allowed"}, status=405)
    workspace = workspace_by_slug(slug)
    if workspace is None:
        raise Http404(f"Workspace {slug!r} not found.")
    api_url = settings.ORION_UI_API_URL
    if workspace.slug != DEFAULT_WORKSPACE_SLUG:
        api_url = f"{api_url.rstrip('/')}/workspaces/{workspace.slug}"
    csrf_enabled = settings.ORION_AUTH == "api-key"
    return JsonResponse({"api_url": api_url, "csrf_enabled": csrf_enabled, "flags": list(UI_FLAGS)})
