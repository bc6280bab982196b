"""Admin for blocks; secret values are masked in the document admin."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin

from access_app.admin_scope import SharedCatalogueAdmin, TenantAdmin
from blocks_app.models import BlockDocument, BlockSchema, BlockType, Variable
from blocks_app.secrets import obfuscate


@admin.register(BlockType)
class BlockTypeAdmin(SharedCatalogueAdmin):
    """Block types (shared by every workspace)."""

    list_display = ("name", "slug", "is_protected", "created")
    search_fields = ("name", "slug")
    readonly_fields = ("id", "created", "updated")


@admin.register(BlockSchema)
class BlockSchemaAdmin(SharedCatalogueAdmin):
    """Block schemas are written by clients (shared by every workspace); read-only here."""

    list_display = ("block_type", "version", "checksum", "created")
    list_select_related = ("block_type",)
    search_fields = ("checksum", "block_type__name")
    readonly_fields = ("id", "created", "updated", "checksum", "fields", "block_type", "capabilities", "version")

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(BlockDocument)
class BlockDocumentAdmin(TenantAdmin):
    """Block documents with their secret values masked."""

    list_display = ("name", "block_type", "is_anonymous", "created")
    list_filter = ("is_anonymous", "block_type")
    list_select_related = ("block_type",)
    search_fields = ("name",)
    readonly_fields = ("id", "created", "updated", "masked_data")
    exclude = ("data",)
    raw_id_fields = ("block_schema", "block_type")

    @admin.display(description="Data (secrets masked)")
    def masked_data(self, document: BlockDocument) -> str:
        secret_fields = (document.block_schema.fields or {}).get("secret_fields") or []
        return json.dumps(obfuscate(dict(document.data or {}), list(secret_fields)), indent=2)


@admin.register(Variable)
class VariableAdmin(TenantAdmin):
    """Variables flows read at run time; names follow the API's rule (lowercase, digits, ``_``)."""

    list_display = ("name", "value", "tags", "updated")
    search_fields = ("name", "value")
    readonly_fields = ("id", "created", "updated")
