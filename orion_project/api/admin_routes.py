"""``/api/admin``: settings and database maintenance (reference §G.8).

Under a workspace (``/api/workspaces/<slug>/admin/...``, or ``/api/admin/...`` for
``default``), ``database/clear`` deletes that workspace's records only, through the one
workspace delete path; ``database/drop`` and ``database/create`` act on the whole server
and are answered under ``default`` only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import route
from orion_project.api.fields import BoolField
from orion_project.api.filtering import request_serializer, validate_body
from orion_project.models import DEFAULT_WORKSPACE_ID
from orion_project.registry import registered_resets, registered_workspace_purge

OBFUSCATED = "********"
ConfirmRequest = request_serializer("ConfirmRequest", {}, extra={"confirm": BoolField(default=False)})


def settings_snapshot() -> dict[str, Any]:
    """The settings that shape the API's behaviour, under the reference's names; the
    database location and the secret key are obfuscated."""
    return {
        "PREFECT_API_URL": f"http://{settings.ORION_HOST}:{settings.ORION_PORT}/api",
        "PREFECT_ORION_API_HOST": settings.ORION_HOST,
        "PREFECT_ORION_API_PORT": settings.ORION_PORT,
        "PREFECT_ORION_API_DEFAULT_LIMIT": settings.ORION_API_DEFAULT_LIMIT,
        "PREFECT_ORION_DATABASE_CONNECTION_URL": OBFUSCATED,
        "PREFECT_ORION_DATABASE_ENGINE": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "PREFECT_ORION_SERVICES_SCHEDULER_LOOP_SECONDS": settings.ORION_SCHEDULER_INTERVAL_SECONDS,
        "PREFECT_ORION_SERVICES_SCHEDULER_MAX_RUNS": settings.ORION_SCHEDULER_MAX_RUNS,
        "PREFECT_ORION_SERVICES_SCHEDULER_MIN_RUNS": settings.ORION_SCHEDULER_MIN_RUNS,
        "PREFECT_ORION_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME": settings.ORION_SCHEDULER_MAX_SCHEDULED_SECONDS,
        "PREFECT_ORION_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME": settings.ORION_SCHEDULER_MIN_SCHEDULED_SECONDS,
        "PREFECT_ORION_SERVICES_LATE_RUNS_LOOP_SECONDS": settings.ORION_LATE_RUNS_INTERVAL_SECONDS,
        "PREFECT_ORION_SERVICES_LATE_RUNS_AFTER_SECONDS": settings.ORION_LATE_RUNS_AFTER_SECONDS,
        "DJANGO_SECRET_KEY": OBFUSCATED,
        "DJANGO_DEBUG": settings.DEBUG,
    }


def clear_database() -> None:
    """Delete every row the API manages and re-seed what a new server starts with, in one
    transaction; each app resets its own tables (see ``orion_project.registry``)."""
    with transaction.atomic():
        for reset in registered_resets():
            reset()


def _once_confirmed(request: Request, step: Callable[[], object]) -> Response | HttpResponse:
    """Run ``step`` when the body says ``{"confirm": true}`` (204); the reference answers
    an unconfirmed request with 400 and an empty body."""
    if not validate_body(ConfirmRequest, request.data).get("confirm"):
        return HttpResponse(status=status.HTTP_400_BAD_REQUEST)
    step()
    return Response(status=status.HTTP_204_NO_CONTENT)


@route("read_settings", responses={200: OpenApiTypes.OBJECT}, tags=["Admin"])
@api_view(["GET"])
def read_settings(request: Request) -> Response:
    """The server's settings, secrets obfuscated."""
    return Response(settings_snapshot())


def _server_level(request: Request) -> Response | None:
    """The refusal of a server-wide operation sent under a workspace other than ``default``."""
    workspace = request.workspace  # type: ignore[attr-defined]
    if workspace.id == DEFAULT_WORKSPACE_ID:
        return None
    return Response(
        {"detail": f"This acts on the whole server; it is not available under the workspace {workspace.slug!r}."},
        status=status.HTTP_403_FORBIDDEN,
    )


@route("clear_database", request=ConfirmRequest, responses={204: None, 400: None}, tags=["Admin"])
@api_view(["POST"])
def clear(request: Request) -> Response | HttpResponse:
    """Delete every row (body `{"confirm": true}` required, else 400)."""
    workspace_id = request.workspace.id  # type: ignore[attr-defined]
    return _once_confirmed(request, lambda: registered_workspace_purge()(workspace_id))


@route("drop_database", request=ConfirmRequest, responses={204: None, 400: None}, tags=["Admin"])
@api_view(["POST"])
def drop(request: Request) -> Response | HttpResponse:
    """The schema belongs to Django's migrations, so dropping it through the API would
    leave a server that cannot answer; this empties every table instead (confirm
    required)."""
    refusal = _server_level(request)
    return refusal if refusal is not None else _once_confirmed(request, clear_database)


@route("create_database", request=ConfirmRequest, responses={204: None, 400: None}, tags=["Admin"])
@api_view(["POST"])
def create(request: Request) -> Response | HttpResponse:
    """Apply any pending migrations (confirm required)."""
    refusal = _server_level(request)
    if refusal is not None:
        return refusal
    return _once_confirmed(request, lambda: call_command("migrate", interactive=False, verbosity=0))
