"""OpenAPI generation tweaks for drf-spectacular."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_basic_type
from drf_spectacular.types import OpenApiTypes

# Every error body the exception handler writes (orion_project.api.errors): the
# validation shape ``{exception_message, exception_detail, request_body}`` or ``{detail}``.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error: `detail` alone, or the validation shape with `exception_detail`.",
    "properties": {
        "detail": {"description": "What went wrong (a message, or a list of problems)."},
        "exception_message": {"type": "string"},
        "exception_detail": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {}},
            "description": "One `{loc, msg, type, ctx?}` per problem.",
        },
        "request_body": {"description": "The body as received, when it parsed."},
    },
}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class OrionAutoSchema(AutoSchema):
    """Group operations under the reference's tags (``Flows``, ``Flow Runs`` ...),
    document the error answers each operation can give, and type what the routes take
    as the reference types it: JSON bodies, UUID ids.

    A view sets ``schema_tags``; operation ids and descriptions are explicit on every
    action through ``extend_schema``.
    """

    def get_tags(self) -> list[str]:
        tags = getattr(self.view, "schema_tags", None)
        return list(tags) if tags else super().get_tags()

    def map_parsers(self) -> list[str]:
        """Bodies are JSON. The parser also reads a body sent with another content type
        (``AnyContentTypeJSONParser``, for tools that omit the header), but what a client
        should send is ``application/json``, as in the reference's document."""
        return ["application/json"]

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        """Path ids (``{id}``, ``{schedule_id}``) are UUIDs: every route parses them with
        ``parse_path_uuid`` and answers 422 for anything else. A route whose ``{id}`` is
        something else overrides the parameter in its ``extend_schema``."""
        parameters: list[dict[str, Any]] = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["name"] == "id" or parameter["name"].endswith("_id"):
                parameter["schema"] = build_basic_type(OpenApiTypes.UUID)
        return parameters

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        component = ResolvedComponent(
            name="ErrorResponse", type=ResolvedComponent.SCHEMA, object="ErrorResponse", schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        body = {"content": {"application/json": {"schema": component.ref}}}
        for code, description in self._error_codes():
            responses.setdefault(code, {"description": description, **body})
        return responses

    def _error_codes(self) -> list[tuple[str, str]]:
        """The 4xx answers this operation can give, from what it takes as input."""
        has_path = "{" in self.path
        has_body = self.method in ("POST", "PUT", "PATCH")
        has_query = bool(self._get_filter_parameters() or self.get_override_parameters())
        codes: list[tuple[str, str]] = []
        if has_path or has_body:
            codes.append(("404", "Not found (the object, or one the body refers to)."))
        if self.method in WRITE_METHODS:
            codes.append(("403", "The object is protected or reserved."))
            codes.append(("409", "A uniqueness or reference rule was broken."))
        if has_body:
            codes.append(("400", "The request validated but cannot be carried out (the detail says why)."))
            codes.append(("413", "The request body is over the configured size."))
        if has_path or has_body or has_query:
            codes.append(("422", "The request did not validate."))
        return codes


# Raw response schemas for routes whose answer no serializer describes.
ARRAY_OF_OBJECTS: dict[str, Any] = {"type": "array", "items": {"type": "object", "additionalProperties": {}}}
NULLABLE_NUMBER: dict[str, Any] = {"type": "number", "nullable": True}
