"""Server-level routes: health, hello, version, CSRF token, readiness (reference §G.8)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import route
from orion_project.api.errors import validation_response
from orion_project.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from orion_project.metrics import render_metrics
from orion_project.session_csrf import MAX_CLIENT_LENGTH, issue_token

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


# The operation's description as published before the dashboard could sign in; the API's
# clients (keys, or none) still get exactly that answer.
CSRF_DESCRIPTION = (
    "The 2.20 client asks for a CSRF token before its first write. The API does not use cookies, "
    "so CSRF protection is disabled and the client is told so (422), which it accepts."
)


@route(
    "create_csrf_token",
    CSRF_DESCRIPTION,
    summary="Create CSRF Token",
    responses={422: OpenApiTypes.OBJECT},
    tags=["Root"],
)
@api_view(["GET"])
def csrf_token(request: Request) -> Response:
    """A request of the signed-in dashboard (``request.principal`` of kind ``user``, set by
    the access middleware from the session) gets a token for its session and ``client``
    (``orion_project.session_csrf``), in the reference's ``CsrfToken`` shape; clients with a
    key or none send no cookie, so for them protection is disabled (422, which they accept)."""
    principal = getattr(request, "principal", None)
    session = getattr(request._request, "session", None)
    session_key = getattr(session, "session_key", None)
    if getattr(principal, "kind", None) != "user" or not session_key:
        return Response({"detail": "CSRF protection is disabled."}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    client = request.query_params.get("client", "")
    if not client or len(client) > MAX_CLIENT_LENGTH:
        error: dict[str, Any] = {"loc": ["query", "client"], "msg": "field required", "type": "value_error.missing"}
        if client:
            error = {
                "loc": ["query", "client"],
                "msg": f"ensure this value has at most {MAX_CLIENT_LENGTH} characters",
                "type": "value_error.any_str.max_length",
                "ctx": {"limit_value": MAX_CLIENT_LENGTH},
            }
        return validation_response([error], None)
    token, expiration = issue_token(session_key=session_key, client=client)
    now = timezone.now()
    return Response(
        {"id": uuid.uuid4(), "created": now, "updated": now, "token": token, "client": client, "expiration": expiration}
    )


def metrics(request: HttpRequest) -> HttpResponse:
    """``GET /api/metrics``: the Prometheus text exposition (see ``orion_project.metrics``)."""
    if request.method != "GET":
        return JsonResponse({"detail": "Method Not Allowed"}, status=405)
    return HttpResponse(render_metrics(), content_type=METRICS_CONTENT_TYPE)
