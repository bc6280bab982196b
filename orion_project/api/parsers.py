"""Request body parsing: any body is read as JSON, whatever its content type."""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class OrionJSONParser(BaseParser):
    """Parse the body as JSON; an empty body parses to ``None`` (no body sent)."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ParseError(str(error)) from error


class AnyContentTypeJSONParser(OrionJSONParser):
    """The Prefect client always sends ``application/json``; other tools sometimes omit the
    header or send another, so any body is still read as JSON rather than refused with 415."""

    media_type = "*/*"
