"""The API key in the OpenAPI document: with ``ORION_AUTH=api-key`` every operation but
the open ones (``access_app.roles.OPEN_PATHS``) declares the bearer scheme the
middleware enforces, so generated clients send the key and fuzzers know to."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from access_app.middleware import AUTH_API_KEY
from access_app.roles import OPEN_PATHS

SCHEME = "APIKey"


def declare_api_key_security(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the bearer scheme, when keys are on."""
    if settings.ORION_AUTH != AUTH_API_KEY:
        return result
    result.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`manage.py orion_api_key create`), sent as `Authorization: Bearer <key>`.",
    }
    result["security"] = [{SCHEME: []}]
    for path, operations in result.get("paths", {}).items():
        if path in OPEN_PATHS:
            for operation in operations.values():
                operation["security"] = []
    return result
