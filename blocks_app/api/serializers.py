"""Request and response shapes of blocks (reference §B.1 BlockType*, BlockSchema*, BlockDocument*)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers

from blocks_app.models import BlockDocument, BlockSchema, BlockType
from blocks_app.secrets import obfuscate
from orion_project.api.fields import (
    BoolField,
    JSONObjectField,
    ListField,
    NameField,
    StrField,
    StrictSerializer,
    UUIDField,
)
from orion_project.api.viewsets import OrionModelSerializer

SLUG_PATTERN = re.compile(r"^[a-z0-9-]*$")


class SlugRuleMixin:
    """Values made of lowercase letters, digits and dashes only."""

    slug_error_messages = {"value_error.str.regex": 'string does not match regex "^[a-z0-9-]*$"'}

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)  # type: ignore[misc]
        if not SLUG_PATTERN.match(value):
            self.fail("value_error.str.regex")  # type: ignore[attr-defined]
        return str(value)


class SlugField(SlugRuleMixin, StrField):
    """A block type slug."""

    default_error_messages = {**StrField.default_error_messages, **SlugRuleMixin.slug_error_messages}


class SlugNameField(SlugRuleMixin, NameField):
    """A block document name: the name rule plus the slug alphabet."""

    default_error_messages = {**NameField.default_error_messages, **SlugRuleMixin.slug_error_messages}


class HttpUrlField(StrField):
    """An http(s) URL of at most 2083 characters."""

    default_error_messages = {
        "value_error.url.scheme": "invalid or missing URL scheme",
    }

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2083:
            self.fail("value_error.url.scheme")
        return value


class BlockTypeSerializer(OrionModelSerializer):
    """A block type."""

    class Meta:
        model = BlockType
        fields = [
            "id", "created", "updated", "name", "slug", "logo_url", "documentation_url",
            "description", "code_example", "is_protected",
        ]  # fmt: skip


class BlockSchemaSerializer(OrionModelSerializer):
    """A block schema with its block type."""

    block_type = BlockTypeSerializer(read_only=True)

    class Meta:
        model = BlockSchema
        fields = [
            "id",
            "created",
            "updated",
            "checksum",
            "fields",
            "block_type_id",
            "block_type",
            "capabilities",
            "version",
        ]


class BlockDocumentSerializer(OrionModelSerializer):
    """A block document; secret values are hidden unless the context says ``include_secrets``."""

    data = serializers.SerializerMethodField()  # type: ignore[assignment]  # a field, not Serializer.data
    block_schema = BlockSchemaSerializer(read_only=True)
    block_type = BlockTypeSerializer(read_only=True)
    block_document_references = serializers.SerializerMethodField()
    block_type_name = serializers.SerializerMethodField()

    class Meta:
        model = BlockDocument
        fields = [
            "id", "created", "updated", "name", "data", "block_schema_id", "block_schema",
            "block_type_id", "block_type", "block_document_references", "is_anonymous", "block_type_name",
        ]  # fmt: skip

    def get_data(self, document: BlockDocument) -> dict[str, Any]:
        if self.context.get("include_secrets"):
            return dict(document.data or {})
        secret_fields = (document.block_schema.fields or {}).get("secret_fields") or []
        return obfuscate(dict(document.data or {}), list(secret_fields))

    def get_block_document_references(self, document: BlockDocument) -> dict[str, Any]:
        return {}

    def get_block_type_name(self, document: BlockDocument) -> str:
        return document.block_type.name


class BlockTypeCreateSerializer(StrictSerializer):
    """Body of ``POST /block_types/``."""

    name = NameField(required=True, allow_null=False)
    slug = SlugField(required=True, allow_null=False)
    logo_url = HttpUrlField()
    documentation_url = HttpUrlField()
    description = StrField()
    code_example = StrField()


class BlockTypeUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /block_types/{id}``."""

    logo_url = HttpUrlField()
    documentation_url = HttpUrlField()
    description = StrField()
    code_example = StrField()


class BlockSchemaCreateSerializer(StrictSerializer):
    """Body of ``POST /block_schemas/`` (the checksum is computed by the server)."""

    fields = JSONObjectField(default=dict)  # type: ignore[assignment]  # a field, not Serializer.fields
    block_type_id = UUIDField(required=True, allow_null=False)
    capabilities = ListField(child=StrField(allow_null=False), default=list)
    version = StrField(default="non-versioned")


class BlockDocumentCreateSerializer(StrictSerializer):
    """Body of ``POST /block_documents/``: a name is required unless the document is anonymous."""

    name = SlugNameField()
    data = JSONObjectField(default=dict)  # type: ignore[assignment]  # a field, not Serializer.data
    block_schema_id = UUIDField(required=True, allow_null=False)
    block_type_id = UUIDField(required=True, allow_null=False)
    is_anonymous = BoolField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("is_anonymous") and not attrs.get("name"):
            raise serializers.ValidationError(
                {"name": [serializers.ErrorDetail("Names must be provided for block documents.", "value_error")]}
            )
        return attrs


class BlockDocumentUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /block_documents/{id}``."""

    block_schema_id = UUIDField()
    data = JSONObjectField()  # type: ignore[assignment]  # a field, not Serializer.data
    merge_existing_data = BoolField(default=True)
