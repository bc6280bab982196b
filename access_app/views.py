"""The signed-in dashboard's pages: sign-in and sign-out (Django's auth views, guarded by
django-axes like the admin's login), the workspace switcher, and the stock Prefect
dashboard of each workspace at ``/workspace/<slug>/`` (``/`` for ``default``), shown
to members only when ``ORION_AUTH=api-key``.

The UI's files are served by ``orion_project.ui.middleware``; its page routes (any path
of the UI's router, such as the run link a client prints) come here, so a link opened
before signing in leads to the sign-in page and back.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from access_app.members import user_workspaces, workspace_role
from orion_project.models import DEFAULT_WORKSPACE_SLUG
from orion_project.ui.middleware import index_response, is_page_route, ui_installed
from orion_project.ui.views import landing
from orion_project.workspaces import workspace_by_slug

AUTH_API_KEY = "api-key"


class SignInView(auth_views.LoginView):
    """Django's login view with the dashboard's page; a signed-in user goes straight on."""

    template_name = "orion_dashboard/sign_in.html"
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    """Sign out (a POST, as Django asks) and back to the sign-in page."""

    next_page = "sign-in"


def workspaces(request: HttpRequest) -> HttpResponse:
    """The workspace switcher: the workspaces the user may open, with their dashboards."""
    if settings.ORION_AUTH == AUTH_API_KEY and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    listed = user_workspaces(request.user) if request.user.is_authenticated else []
    return render(request, "orion_dashboard/workspaces.html", {"workspaces": listed, "default": DEFAULT_WORKSPACE_SLUG})


def dashboard(request: HttpRequest, slug: str = DEFAULT_WORKSPACE_SLUG, rest: str = "") -> HttpResponse:
    """A page of the stock dashboard of workspace ``slug`` (``rest``: the UI router's path)."""
    if request.method not in ("GET", "HEAD") or not is_page_route(f"/{rest}"):
        raise Http404
    if not ui_installed():
        if slug == DEFAULT_WORKSPACE_SLUG and rest == "":
            return landing(request)
        raise Http404
    workspace = workspace_by_slug(slug)
    if workspace is None:
        raise Http404
    if settings.ORION_AUTH == AUTH_API_KEY:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if workspace_role(request.user, workspace_id=workspace.id) is None:
            context = {"slug": workspace.slug, "workspaces": user_workspaces(request.user)}
            return render(request, "orion_dashboard/not_a_member.html", context, status=403)
    base = "" if workspace.slug == DEFAULT_WORKSPACE_SLUG else f"/workspace/{workspace.slug}"
    response = index_response(request, base)
    if response is None:  # uninstalled meanwhile
        raise Http404
    return response
