"""Top-level routes: the API under /api, the admin under /admin, API docs under /docs, the
dashboard at / (workspace ``default``) and /workspace/<slug>/, with its sign-in pages."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularSwaggerView

from access_app import views as dashboard_views
from orion_project.api.openapi_views import OpenApiJsonView, OpenApiYamlView, RedocView, redoc_bundle
from orion_project.api.routers import segment_indexed
from orion_project.ui import views as ui_views

handler404 = "orion_project.api.errors.json_not_found"
handler500 = "orion_project.api.errors.json_server_error"

urlpatterns = [
    # The dashboard of ``default`` (the landing page until a UI is installed).
    path("", dashboard_views.dashboard, name="landing"),
    segment_indexed(path("api/", include("orion_project.api.urls"))),
    path("ui-settings", ui_views.ui_settings, name="ui-settings"),
    path("workspace/<slug:slug>/ui-settings", ui_views.ui_settings, name="workspace-ui-settings"),
    path("sign-in/", dashboard_views.SignInView.as_view(), name="sign-in"),
    path("sign-out/", dashboard_views.SignOutView.as_view(), name="sign-out"),
    path("workspaces/", dashboard_views.workspaces, name="workspaces"),
    path("api/openapi.json", OpenApiJsonView.as_view(), name="openapi-schema"),
    path("api/openapi.yaml", OpenApiYamlView.as_view(), name="openapi-schema-yaml"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="swagger-ui"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("redoc", RedocView.as_view(url_name="openapi-schema"), name="redoc"),
    path("redoc/redoc.standalone.js", redoc_bundle, name="redoc-bundle"),
    path("admin/", admin.site.urls),
    # The UI's page routes (its files are answered by orion_project.ui.middleware): a
    # workspace's under its base, and every other path outside the server's own for ``default``.
    re_path(r"^workspace/(?P<slug>[a-z0-9-]{1,40})(?:/(?P<rest>.*))?$", dashboard_views.dashboard, name="dashboard"),
    re_path(
        r"^(?!api/|api$|admin|static/|docs|redoc|ui-settings|workspace/)(?P<rest>.+)$",
        dashboard_views.dashboard,
        name="default-dashboard",
    ),
]
