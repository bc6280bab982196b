"""``/api/admin``: settings and database maintenance (reference §G.8)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.fields import BoolField
from orion_project.api.filtering import request_serializer, validate_body
from orion_project.registry import registered_resets

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


def _confirmed(request: Request) -> bool:
    return bool(validate_body(ConfirmRequest, request.data).get("confirm"))


def _unconfirmed() -> HttpResponse:
    """The reference answers an unconfirmed request with 400 and an empty body."""
    return HttpResponse(status=status.HTTP_400_BAD_REQUEST)


@extend_schema(
    operation_id="read_settings",
    summary="Read Settings",
    description="The server's settings, secrets obfuscated.",
    responses={200: OpenApiTypes.OBJECT},
    tags=["Admin"],
)
@api_view(["GET"])
def read_settings(request: Request) -> Response:
    return Response(settings_snapshot())


@extend_schema(
    operation_id="clear_database",
    summary="Clear Database",
    description='Delete every row (body `{"confirm": true}` required, else 400).',
    request=ConfirmRequest,
    responses={204: None, 400: None},
    tags=["Admin"],
)
@api_view(["POST"])
def clear(request: Request) -> Response | HttpResponse:
    if not _confirmed(request):
        return _unconfirmed()
    clear_database()
    return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    operation_id="drop_database",
    summary="Drop Database",
    description=(
        "The schema belongs to Django's migrations, so dropping it through the API would leave a "
        "server that cannot answer; this empties every table instead (confirm required)."
    ),
    request=ConfirmRequest,
    responses={204: None, 400: None},
    tags=["Admin"],
)
@api_view(["POST"])
def drop(request: Request) -> Response | HttpResponse:
    if not _confirmed(request):
        return _unconfirmed()
    clear_database()
    return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    operation_id="create_database",
    summary="Create Database",
    description="Apply any pending migrations (confirm required).",
    request=ConfirmRequest,
    responses={204: None, 400: None},
    tags=["Admin"],
)
@api_view(["POST"])
def create(request: Request) -> Response | HttpResponse:
    if not _confirmed(request):
        return _unconfirmed()
    call_command("migrate", interactive=False, verbosity=0)
    return Response(status=status.HTTP_204_NO_CONTENT)
