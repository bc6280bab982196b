"""Request body parsing: any body is read as JSON, whatever its content type.

The parser is also where the body-wide input limits are enforced, once for every route:
its size (``ORION_MAX_REQUEST_BODY_BYTES``, also checked from ``Content-Length`` by
``RequestLimitsMiddleware``) and NUL characters, which PostgreSQL refuses in text and
``jsonb`` columns alike, so no route may store one on either database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

from orion_project.api.errors import RequestValidationError
from orion_project.api.middleware import NUL_MESSAGE, body_too_large_message


class RequestBodyTooLarge(APIException):
    """413 ``{"detail": ...}``: the body is over the configured limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class OrionJSONParser(BaseParser):
    """Parse the body as JSON; an empty body parses to ``None`` (no body sent)."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.ORION_MAX_REQUEST_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestBodyTooLarge(body_too_large_message())
        if not raw.strip():
            return None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ParseError(str(error)) from error
        # JSON can only spell NUL as an escape; look for one only when the text has it.
        if b"\\u0000" in raw:
            locations = list(_nul_locations(data, ("body",)))
            if locations:
                raise RequestValidationError(
                    [
                        {"loc": list(loc), "msg": NUL_MESSAGE, "type": "value_error.null_characters"}
                        for loc in locations
                    ],
                    None,
                )
        return data


def _nul_locations(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Where a NUL character sits in parsed JSON: in a string value or an object key."""
    if isinstance(value, str):
        if "\x00" in value:
            yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield (*loc, key)
            yield from _nul_locations(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_locations(item, (*loc, index))


class AnyContentTypeJSONParser(OrionJSONParser):
    """The Prefect client always sends ``application/json``; other tools sometimes omit the
    header or send another, so any body is still read as JSON rather than refused with 415."""

    media_type = "*/*"
