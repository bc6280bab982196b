"""JSON rendering with orjson: fast, and datetimes come out as ISO-8601 with ``+00:00``."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer


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


def dumps(data: Any) -> bytes:
    """Serialise ``data`` the way every API response is serialised."""
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)


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
