"""Every /api route: server-level views plus one router for all resources.

Each app contributes its viewsets through a ``register(router)`` function in its
``api/routes.py`` so this module stays a list, not a second copy of every path.
"""

from django.urls import path

from automations_app.api.routes import register as register_automations
from blocks_app.api.routes import register as register_blocks
from events_app.api import routes as events_routes
from events_app.api import sockets as events_sockets
from flows_app.api.routes import register as register_flows
from orion_project.api import admin_routes, root
from orion_project.api.routers import OrionRouter
from runs_app.api.routes import register as register_runs

router = OrionRouter()
register_flows(router)
register_runs(router)
register_blocks(router)
events_routes.register(router)
register_automations(router)

urlpatterns = [
    path("health", root.health, name="health"),
    path("hello", root.hello, name="hello"),
    path("ready", root.ready, name="ready"),
    path("version", root.api_version, name="api-version"),
    path("admin/version", root.admin_version, name="admin-version"),
    path("csrf-token", root.csrf_token, name="csrf-token"),
    path("metrics", root.metrics, name="metrics"),
    path("admin/settings", admin_routes.read_settings, name="admin-settings"),
    path("admin/database/clear", admin_routes.clear, name="admin-database-clear"),
    path("admin/database/drop", admin_routes.drop, name="admin-database-drop"),
    path("admin/database/create", admin_routes.create, name="admin-database-create"),
    *events_routes.urlpatterns(),
    *events_sockets.urlpatterns(),
    *router.urls,
]
