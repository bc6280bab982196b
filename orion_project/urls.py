"""Top-level routes: the API under /api, the admin under /admin, API docs under /docs, the UI at /."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from orion_project.api import root
from orion_project.api.openapi_views import OpenApiJsonView, OpenApiYamlView, RedocView, redoc_bundle
from orion_project.ui import views as ui_views

handler404 = "orion_project.api.errors.json_not_found"
handler500 = "orion_project.api.errors.json_server_error"

urlpatterns = [
    # Answered by the Prefect UI once installed (orion_project.ui.middleware); until then:
    path("", ui_views.landing, name="landing"),
    path("api/", include("orion_project.api.urls")),
    path("ui-settings", root.ui_settings, name="ui-settings"),
    path("api/openapi.json", OpenApiJsonView.as_view(), name="openapi-schema"),
    path("api/openapi.yaml", OpenApiYamlView.as_view(), name="openapi-schema-yaml"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="swagger-ui"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("redoc", RedocView.as_view(url_name="openapi-schema"), name="redoc"),
    path("redoc/redoc.standalone.js", redoc_bundle, name="redoc-bundle"),
    path("admin/", admin.site.urls),
]
