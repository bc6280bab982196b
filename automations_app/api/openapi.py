"""The automation documents in the OpenAPI document: the request bodies of the
automation routes name these components, built from the documents' one definition
(``automations_app.schema``)."""

from __future__ import annotations

from typing import Any

from automations_app.schema import openapi_components

RESOURCE_SPECIFICATION = {
    "type": "object",
    "title": "ResourceSpecification",
    "description": "Labels a resource must have: each a value or a list of values (`*` ends a prefix).",
    "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
}


def add_automation_documents(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the trigger, action and automation schemas."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(openapi_components())
    schemas["ResourceSpecification"] = RESOURCE_SPECIFICATION
    return result
