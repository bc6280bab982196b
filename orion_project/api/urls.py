"""Every /api route: server-level views plus one router for all resources."""

from django.urls import path

from flows_app.api.views import FlowViewSet
from orion_project.api import root
from orion_project.api.routers import OrionRouter

router = OrionRouter()
router.register("flows", FlowViewSet, basename="flows")

urlpatterns = [
    path("health", root.health, name="health"),
    path("hello", root.hello, name="hello"),
    path("ready", root.ready, name="ready"),
    path("version", root.api_version, name="api-version"),
    path("admin/version", root.admin_version, name="admin-version"),
    path("csrf-token", root.csrf_token, name="csrf-token"),
    *router.urls,
]
