"""Request body parsing: any body is read as JSON, whatever its content type.

The parser is also where the body-wide input limits are enforced, once for every route:
its size (``ORION_MAX_REQUEST_BODY_BYTES``, also checked from ``Content-Length`` by
``RequestLimitsMiddleware``), its nesting depth (``orion_project.json_values``: every
free-form field is inside the body, so each is bounded before any route reads it) and
NUL characters, which PostgreSQL refuses in text and ``jsonb`` columns alike, so no
route may store one on either database.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser

from orion_project.api.errors import RequestValidationError
from orion_project.api.middleware import NUL_MESSAGE, body_too_large_message
from orion_project.json_values import MAX_JSON_DEPTH, json_nul_paths, json_too_deep_at, json_within_depth


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
            raise json_syntax_error(raw, error) from error
        scan = raw.translate(_SCAN_TABLE)
        # Nesting deeper than the bound needs at least as many brackets.
        if scan.count(b"[") > MAX_JSON_DEPTH and not json_within_depth(data):
            raise RequestValidationError(
                [
                    {
                        "loc": ["body", *(json_too_deep_at(data) or ())],
                        "msg": f"ensure this value is nested at most {MAX_JSON_DEPTH} levels deep",
                        "type": "value_error.json.max_depth",
                        "ctx": {"limit_value": MAX_JSON_DEPTH},
                    }
                ],
                None,
            )
        if _DIGIT_RUN in scan:
            # orjson reads an integer past 64 bits as a float (10**40 -> 1e+40); Python's
            # own parser keeps it exact, as the reference does. orjson has already
            # checked the text and its depth, so this parse cannot fail.
            data = json.loads(raw)
        # JSON can only spell NUL as an escape; look for one only when the text has it.
        if b"\\u0000" in raw:
            locations = json_nul_paths(data)
            if locations:
                raise RequestValidationError(
                    [
                        {"loc": ["body", *loc], "msg": NUL_MESSAGE, "type": "value_error.null_characters"}
                        for loc in locations
                    ],
                    None,
                )
        return data


# The body as the parser scans it: every digit as "0" and every opening bracket as "[",
# so one pass counts brackets and finds digit runs (a regular expression is many times
# slower on text full of timestamps and UUIDs).
_SCAN_TABLE = bytes(
    ord("0") if ord("0") <= byte <= ord("9") else ord("[") if byte in b"[{" else byte for byte in range(256)
)
# A run of 19 digits is the shortest that may be an integer orjson cannot hold exactly
# (below -2**63 or from 2**64); a long string of digits also matches, harmlessly.
_DIGIT_RUN = b"0" * 19


def json_syntax_error(raw: bytes, error: orjson.JSONDecodeError) -> RequestValidationError:
    """The reference's 422 for a body that is not JSON: Python's own decoder message,
    which says where (``Expecting value: line 1 column 7 (char 6)``), at ``["body", pos]``,
    the decoder's fields as ``ctx`` and the text echoed as ``request_body``.

    Python's decoder accepts a few texts orjson refuses (integers too long for a
    double, lone surrogates, NaN); those keep orjson's message, which says where too."""
    found: json.JSONDecodeError = error
    try:
        json.loads(raw.decode())
    except json.JSONDecodeError as stdlib_error:
        found = stdlib_error
    except (RecursionError, ValueError):  # not UTF-8, or too deep for Python's decoder
        pass
    doc = found.doc if isinstance(found.doc, str) else raw.decode(errors="replace")
    return RequestValidationError(
        [
            {
                "loc": ["body", found.pos],
                "msg": str(found),
                "type": "value_error.jsondecode",
                "ctx": {
                    "msg": found.msg,
                    "doc": doc,
                    "pos": found.pos,
                    "lineno": found.lineno,
                    "colno": found.colno,
                },
            }
        ],
        doc,
    )


class AnyContentTypeJSONParser(OrionJSONParser):
    """The Prefect client always sends ``application/json``; other tools sometimes omit the
    header or send another, so any body is still read as JSON rather than refused with 415."""

    media_type = "*/*"
