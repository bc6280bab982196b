"""A router whose URLs match the reference's slashes exactly.

Collection routes end in a slash (``/flows/``); item routes and actions do not
(``/flows/{id}``, ``/flows/filter``, ``/flows/{id}/set_state``). Nothing redirects:
``APPEND_SLASH`` is off, so a path with the wrong slash is a 404.
"""

from __future__ import annotations

from rest_framework.routers import DynamicRoute, Route, SimpleRouter


class OrionRouter(SimpleRouter):
    """``SimpleRouter`` with per-route slashes. Collection actions come before item routes,
    so ``/flows/filter`` is never read as an id."""

    routes = [
        Route(
            url=r"^{prefix}/$",
            mapping={"get": "list", "post": "create", "put": "upsert"},
            name="{basename}-list",
            detail=False,
            initkwargs={"suffix": "List"},
        ),
        DynamicRoute(url=r"^{prefix}/{url_path}$", name="{basename}-{url_name}", detail=False, initkwargs={}),
        Route(
            url=r"^{prefix}/{lookup}$",
            mapping={"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"},
            name="{basename}-detail",
            detail=True,
            initkwargs={"suffix": "Instance"},
        ),
        DynamicRoute(
            url=r"^{prefix}/{lookup}/{url_path}$",
            name="{basename}-{url_name}",
            detail=True,
            initkwargs={},
        ),
    ]
