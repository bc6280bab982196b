"""Server-level routes: health, hello, version, CSRF token, readiness (reference §G.8)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import route
from orion_project.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from orion_project.metrics import render_metrics

logger = logging.getLogger("orion.api")


@route("health_check", responses={200: OpenApiTypes.BOOL}, tags=["Root"])
@api_view(["GET"])
def health(request: Request) -> Response:
    """Liveness probe; answers `true`. Not subject to the API-version header check."""
    return Response(True)


@route("hello", responses={200: OpenApiTypes.STR}, tags=["Root"])
@api_view(["GET"])
def hello(request: Request) -> Response:
    """Say hello."""
    return Response("👋")


@route("perform_readiness_check", responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT}, tags=["Root"])
@api_view(["GET"])
def ready(request: Request) -> Response:
    """Readiness probe: 200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means "not ready"
        logger.warning("Readiness check failed: %s", exc)
        response = Response({"message": "Database is not available"}, status=503)
        response["Retry-After"] = str(settings.ORION_DB_RETRY_AFTER_SECONDS)
        return response
    return Response({"message": "OK"})


@route("read_server_version", responses={200: OpenApiTypes.STR}, tags=["Admin"])
@api_view(["GET"])
def admin_version(request: Request) -> Response:
    """The Prefect server version this server is compatible with."""
    return Response(settings.ORION_SERVER_VERSION)


@route("orion_info", summary="API Version", responses={200: OpenApiTypes.STR}, tags=["Root"])
@api_view(["GET"])
def api_version(request: Request) -> Response:
    """The REST API version (2.20 route)."""
    return Response(settings.ORION_API_VERSION)


@route("create_csrf_token", summary="Create CSRF Token", responses={422: OpenApiTypes.OBJECT}, tags=["Root"])
@api_view(["GET"])
def csrf_token(request: Request) -> Response:
    """The 2.20 client asks for a CSRF token before its first write. The API does not use
    cookies, so CSRF protection is disabled and the client is told so (422), which it
    accepts."""
    return Response(
        {"detail": "CSRF protection is disabled."},
        status=status.HTTP_422_UNPROCESSABLE_ENTITY,
    )


# The UI features the 2.20 reference switches on (its ``/ui-settings`` flags); the UI hides
# the pages of a feature that is not listed.
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
)


@extend_schema(exclude=True)
@api_view(["GET"])
def ui_settings(request: Request) -> Response:
    """``GET /ui-settings`` (outside /api): where the UI served from here finds the API,
    in the 2.20 reference's shape (its ``api_url`` is ``/api``, relative to the page)."""
    return Response({"api_url": settings.ORION_UI_API_URL, "csrf_enabled": False, "flags": list(UI_FLAGS)})


def metrics(request: HttpRequest) -> HttpResponse:
    """``GET /api/metrics``: the Prometheus text exposition (see ``orion_project.metrics``)."""
    if request.method != "GET":
        return JsonResponse({"detail": "Method Not Allowed"}, status=405)
    return HttpResponse(render_metrics(), content_type=METRICS_CONTENT_TYPE)
