"""JSON rendering with orjson: fast, and datetimes come out as ISO-8601 with ``+00:00``.

orjson refuses two things a stored JSON value may hold: integers past 64 bits (kept
exact since the parser reads them so, as the reference does) and nesting past 255
levels (possible only in values stored before the parser bounded depth). Only when it
refuses is the answer copied once with those written out exactly and the too-deep
parts cut (``orion_project.json_values.json_cut``), so one such value never fails a
whole listing and the common path costs nothing more.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer

from orion_project.json_values import RENDER_MAX_DEPTH, json_cut

logger = logging.getLogger("orion.api")


def _default(value: Any) -> Any:
    """Encode the types orjson does not know natively."""
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "__str__"):
        return str(value)
    raise TypeError(f"Cannot encode {type(value).__name__} as JSON")


# The integers orjson writes natively: i64 and u64.
_ORJSON_INT_MIN = -(2**63)
_ORJSON_INT_MAX = 2**64 - 1


def _exact_int(value: Any) -> Any:
    """An integer orjson cannot write, as the JSON number text it spells."""
    if type(value) is int and not _ORJSON_INT_MIN <= value <= _ORJSON_INT_MAX:
        return orjson.Fragment(str(value).encode())
    return value


def dumps(data: Any) -> bytes:
    """Serialise ``data`` the way every API response is serialised."""
    try:
        return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as error:
        if "ecursion" in str(error):
            logger.warning("An answer held JSON nested too deep, shown cut; see manage.py orion_check_json")
        writable = json_cut(data, RENDER_MAX_DEPTH, leaf=_exact_int)
        return orjson.dumps(writable, default=_default, option=orjson.OPT_NON_STR_KEYS)


class OrionJSONRenderer(BaseRenderer):
    """Render every response body as JSON, ``null`` included (e.g. ``POST /logs/``)."""

    media_type = "application/json"
    format = "json"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code == 204:
            return b""
        return dumps(data)
