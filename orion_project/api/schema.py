"""OpenAPI generation tweaks for drf-spectacular."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema


class OrionAutoSchema(AutoSchema):
    """Group operations under the reference's tags (``Flows``, ``Flow Runs`` ...).

    A view sets ``schema_tags``; operation ids and descriptions are explicit on every
    action through ``extend_schema``.
    """

    def get_tags(self) -> list[str]:
        tags = getattr(self.view, "schema_tags", None)
        return list(tags) if tags else super().get_tags()
