"""One exception handler that gives every API error the reference's body shape.

Shapes (reference §H.1):

* request validation → 422 ``{"exception_message": "Invalid request received.",
  "exception_detail": [{"loc", "msg", "type", "ctx"?}], "request_body": ...}``
* hand-raised checks (limit range, history interval) → 422 ``{"detail": ...}``
* not found in a route → 404 ``{"detail": "Flow not found"}``
* not found deeper in a service → 404 ``{"exception_message": ...}``, except a missing
  object the reference looks up in the route (``MissingReferenceError``) → 404 ``{"detail": ...}``
* integrity errors → 409 with the generic "Data integrity conflict" detail
* the database cannot be reached (``orion_project.db_availability``) → 503
  ``{"detail": ...}`` with ``Retry-After``, in views and outside them (middleware, key
  lookups, rendering): both stock clients retry 503 after the seconds it names
* anything unexpected → 500 ``{"exception_message": "Internal Server Error"}``
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from orion_project.db_availability import database_unavailable
from orion_project.exceptions import (
    INTEGRITY_CONFLICT_DETAIL,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    MissingReferenceError,
    ObjectNotFoundError,
)

logger = logging.getLogger("orion.api")

INVALID_REQUEST_MESSAGE = "Invalid request received."
DATA_ERROR_DETAIL = "The database refused a value in the request (out of range or malformed)."
DATABASE_UNAVAILABLE_DETAIL = "The database is unavailable; retry after {seconds} seconds."

# DRF's built-in error codes, translated into pydantic's wording and error types so that
# clients see the reference's messages. Codes raised by our own fields already *are*
# pydantic types (see orion_project.api.fields) and pass through unchanged.
DRF_CODE_TO_PYDANTIC: dict[str, tuple[str, str]] = {
    "required": ("value_error.missing", "field required"),
    "null": ("type_error.none.not_allowed", "none is not an allowed value"),
    "not_a_dict": ("type_error.dict", "value is not a valid dict"),
    "not_a_list": ("type_error.list", "value is not a valid list"),
    "invalid": ("type_error", "value is not valid"),
    "parse_error": ("value_error.jsondecode", "Invalid JSON"),
    "min_value": ("value_error.number.not_ge", ""),
    "max_value": ("value_error.number.not_le", ""),
}


class DetailError(drf_exceptions.APIException):
    """An error answered as ``{"detail": message}`` with the given status."""

    def __init__(self, detail: str, status_code: int) -> None:
        super().__init__(detail)
        self.status_code = status_code


class RouteNotFound(DetailError):
    """404 ``{"detail": "<Thing> not found"}`` raised by a route's own lookup."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, status.HTTP_404_NOT_FOUND)


class RequestValidationError(drf_exceptions.APIException):
    """422 in pydantic's shape; ``errors`` are already ``{"loc", "msg", "type"}`` dicts."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, errors: list[dict[str, Any]], request_body: Any = None) -> None:
        super().__init__(INVALID_REQUEST_MESSAGE)
        self.errors = errors
        self.request_body = request_body


def pydantic_errors(detail: Any, loc: Sequence[str | int]) -> list[dict[str, Any]]:
    """Flatten DRF's nested error detail into pydantic's list of ``{loc, msg, type}``."""
    return list(_walk_errors(detail, tuple(loc)))


def _walk_errors(detail: Any, loc: tuple[str | int, ...]) -> Iterator[dict[str, Any]]:
    if isinstance(detail, dict):
        for key, value in detail.items():
            # DRF reports whole-object problems under "non_field_errors".
            child = loc if key in ("non_field_errors", "__all__") else (*loc, key)
            yield from _walk_errors(value, child)
    elif isinstance(detail, list):
        errors_here = [item for item in detail if isinstance(item, (str, ErrorDetail))]
        for item in errors_here:
            yield _one_error(item, loc)
        for index, item in enumerate(detail):
            if isinstance(item, (dict, list)) and item:
                # ListField reports per-item errors as {index: [...]} or a positional list.
                yield from _walk_errors(item, (*loc, index))
    elif isinstance(detail, (str, ErrorDetail)):
        yield _one_error(detail, loc)


_QUOTED = re.compile(r"'([^']*)'")
_NUMBER = re.compile(r"\d+")


def _one_error(item: str | ErrorDetail, loc: tuple[str | int, ...]) -> dict[str, Any]:
    code = getattr(item, "code", None) or "value_error"
    message = str(item)
    if code in DRF_CODE_TO_PYDANTIC:
        error_type, default_message = DRF_CODE_TO_PYDANTIC[code]
        if code in ("required", "null", "not_a_dict", "not_a_list"):
            message = default_message
    else:
        error_type = code
    error: dict[str, Any] = {"loc": list(loc), "msg": message, "type": error_type}
    if error_type == "type_error.enum" and "permitted:" in message:
        error["ctx"] = {"enum_values": _QUOTED.findall(message.split("permitted:", 1)[1])}
    elif error_type == "value_error.list.max_items":
        error["ctx"] = {"limit_value": int(_NUMBER.findall(message)[-1])}
    elif error_type.startswith("value_error.number.not_"):
        error["ctx"] = {"limit_value": _number(message.rsplit(" ", 1)[-1])}
    elif error_type in ("value_error.any_str.max_length", "value_error.list.min_items"):
        # "ensure this value has at most 255 characters" / "... at least 1 items"
        error["ctx"] = {"limit_value": _number(message.rsplit(" ", 2)[-2])}
    return error


def _number(text: str) -> int | float | str:
    """The bound quoted in a pydantic message, as the number it was."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def validation_response(errors: list[dict[str, Any]], request_body: Any) -> Response:
    """The 422 body of a request that failed validation."""
    return Response(
        {
            "exception_message": INVALID_REQUEST_MESSAGE,
            "exception_detail": errors,
            "request_body": request_body,
        },
        status=status.HTTP_422_UNPROCESSABLE_ENTITY,
    )


def _request_body(context: dict[str, Any]) -> Any:
    request = context.get("request")
    if request is None:
        return None
    try:
        return request.data
    except Exception:  # the body itself was the problem (bad JSON)
        return None


# The domain exceptions (``orion_project.exceptions``) and the answer each gets: the key
# its message goes under and the status; the first class that matches wins.
DOMAIN_ERRORS: tuple[tuple[type[Any], str, int], ...] = (
    (MissingReferenceError, "detail", status.HTTP_404_NOT_FOUND),
    (ObjectNotFoundError, "exception_message", status.HTTP_404_NOT_FOUND),
    (ConflictError, "detail", status.HTTP_409_CONFLICT),
    (ForbiddenError, "detail", status.HTTP_403_FORBIDDEN),
    (InvalidRequestError, "detail", status.HTTP_400_BAD_REQUEST),
)


def orion_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map every exception raised in an API view to the reference's status and body."""
    if isinstance(exc, RequestValidationError):
        return validation_response(exc.errors, exc.request_body)
    if isinstance(exc, drf_exceptions.ParseError):
        return validation_response(
            [{"loc": ["body", 0], "msg": "Expecting value", "type": "value_error.jsondecode"}],
            None,
        )
    if isinstance(exc, drf_exceptions.ValidationError):
        return validation_response(pydantic_errors(exc.detail, ("body",)), _request_body(context))
    if isinstance(exc, DetailError):
        return Response({"detail": exc.detail}, status=exc.status_code)
    for kind, key, code in DOMAIN_ERRORS:
        if isinstance(exc, kind):
            return Response({key: exc.message}, status=code)
    if database_unavailable(exc):
        return database_unavailable_response(exc, Response)
    if isinstance(exc, IntegrityError):
        logger.warning("Integrity error answered as 409: %s", exc)
        return Response({"detail": INTEGRITY_CONFLICT_DETAIL}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DataError):
        # Validation bounds every value a route stores; this is the database's own refusal
        # of one that slipped through, still the request's fault rather than the server's.
        logger.warning("Data error answered as 422: %s", exc)
        return Response({"detail": DATA_ERROR_DETAIL}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return Response({"detail": "Method Not Allowed"}, status=status.HTTP_405_METHOD_NOT_ALLOWED)
    if isinstance(exc, (Http404, drf_exceptions.NotFound)):
        return Response({"detail": "Not Found"}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return validation_response(
            [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}],
            None,
        )
    if isinstance(exc, drf_exceptions.APIException):
        return Response({"detail": exc.detail}, status=exc.status_code)
    logger.exception("Unhandled error in %s", context.get("view"))
    return Response(
        {"exception_message": "Internal Server Error"},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 404 handler for paths no route matches: the reference's ``Not Found``."""
    return JsonResponse({"detail": "Not Found"}, status=404)


def database_unavailable_response(exc: BaseException, response_class: Any) -> Any:
    """503 with ``Retry-After`` (``ORION_DB_RETRY_AFTER_SECONDS``) for a database outage,
    as ``response_class`` (DRF's ``Response`` in views, ``JsonResponse`` outside them)."""
    seconds = settings.ORION_DB_RETRY_AFTER_SECONDS
    logger.warning("Database unavailable, answered 503: %s", exc)
    response = response_class(
        {"detail": DATABASE_UNAVAILABLE_DETAIL.format(seconds=seconds)},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    response["Retry-After"] = str(seconds)
    return response


def json_server_error(request: HttpRequest) -> JsonResponse:
    """Django's 500 handler, for errors outside DRF views (middleware, rendering).

    Django calls it while handling the exception, so ``sys.exc_info()`` names it: a
    database outage there is a 503 as well.
    """
    exc = sys.exc_info()[1]
    if exc is not None and database_unavailable(exc):
        return database_unavailable_response(exc, JsonResponse)  # type: ignore[no-any-return]
    return JsonResponse({"exception_message": "Internal Server Error"}, status=500)
