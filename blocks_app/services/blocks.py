"""Writes to block types, schemas and documents. Each function is one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from blocks_app.checksums import schema_checksum
from blocks_app.models import BlockDocument, BlockSchema, BlockType
from blocks_app.secrets import keep_masked_secrets
from blocks_app.system_blocks import SYSTEM_BLOCK_TYPES
from orion_project.exceptions import (
    INTEGRITY_CONFLICT_DETAIL,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    MissingReferenceError,
)

RESERVED_PREFIX = "prefect"


def install_system_block_types(block_types: Any = BlockType) -> int:
    """Make sure every system block type exists, protected; returns how many were added.

    Idempotent. ``block_types`` is the model, or its historical version in a migration.
    """
    added = 0
    with transaction.atomic():
        for slug, name in SYSTEM_BLOCK_TYPES:
            _, created = block_types.objects.get_or_create(slug=slug, defaults={"name": name, "is_protected": True})
            added += created
    return added


def block_type_create(*, data: Mapping[str, Any]) -> BlockType:
    """Create a block type; names starting with "prefect" are reserved (403), a taken name
    or slug is a 409."""
    if data["name"].lower().startswith(RESERVED_PREFIX):
        raise ForbiddenError("Block type names beginning with 'Prefect' are reserved.")
    try:
        with transaction.atomic():
            return BlockType.objects.create(**data)
    except IntegrityError:
        raise ConflictError(f'Block type with name "{data["name"]}" or slug "{data["slug"]}" already exists.') from None


def block_type_update(*, block_type_id: uuid.UUID, changes: Mapping[str, Any]) -> bool:
    """Update the descriptive fields of a block type; ``False`` if there is none."""
    return BlockType.objects.filter(pk=block_type_id).update(**changes, updated=timezone.now()) > 0


def block_type_delete(*, block_type_id: uuid.UUID) -> bool:
    """Delete a block type with its schemas and documents; protected types refuse (403)."""
    with transaction.atomic():
        block_type = BlockType.objects.select_for_update().filter(pk=block_type_id).first()
        if block_type is None:
            return False
        if block_type.is_protected:
            raise ForbiddenError("Protected block types cannot be deleted.")
        block_type.delete()
    return True


def block_schema_create(*, data: Mapping[str, Any]) -> tuple[BlockSchema, bool]:
    """Create a block schema with its checksum computed here; an existing schema with the same
    checksum and version is returned instead (``created`` is then ``False``)."""
    if not BlockType.objects.filter(pk=data["block_type_id"]).exists():
        raise MissingReferenceError(f"Block type {data['block_type_id']} not found.")
    checksum = schema_checksum(dict(data["fields"]))
    existing = BlockSchema.objects.filter(checksum=checksum, version=data["version"]).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return BlockSchema.objects.create(checksum=checksum, **data), True
    except IntegrityError:
        return BlockSchema.objects.get(checksum=checksum, version=data["version"]), False


def block_schema_delete(*, block_schema_id: uuid.UUID) -> bool:
    """Delete a block schema; schemas of protected types refuse (403)."""
    with transaction.atomic():
        schema = BlockSchema.objects.select_related("block_type").filter(pk=block_schema_id).first()
        if schema is None:
            return False
        if schema.block_type.is_protected:
            raise ForbiddenError("Block schemas for protected block types cannot be deleted.")
        schema.delete()
    return True


def block_document_create(*, data: Mapping[str, Any]) -> BlockDocument:
    """Create a block document; anonymous ones are named ``anonymous-<uuid>``."""
    fields = dict(data)
    if fields.get("is_anonymous") and not fields.get("name"):
        fields["name"] = f"anonymous-{uuid.uuid4()}"
    schema = BlockSchema.objects.filter(pk=fields["block_schema_id"]).first()
    if schema is None or not BlockType.objects.filter(pk=fields["block_type_id"]).exists():
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL)
    try:
        with transaction.atomic():
            return BlockDocument.objects.create(**fields)
    except IntegrityError:
        raise ConflictError(f'Block already exists: "{fields["name"]}"') from None


def block_document_update(*, block_document_id: uuid.UUID, changes: Mapping[str, Any]) -> bool:
    """Merge (or replace, with ``merge_existing_data: false``) a document's data and/or
    move it to another schema of its type; ``False`` if there is no such document."""
    with transaction.atomic():
        document = (
            BlockDocument.objects.select_for_update(of=("self",))
            .select_related("block_schema")
            .filter(pk=block_document_id)
            .first()
        )
        if document is None:
            return False
        if changes.get("data") is not None:
            secret_fields = (document.block_schema.fields or {}).get("secret_fields") or []
            data = keep_masked_secrets(changes["data"], document.data or {}, secret_fields)
            if changes.get("merge_existing_data", True):
                document.data = {**(document.data or {}), **data}
            else:
                document.data = data
        if changes.get("block_schema_id") is not None:
            schema = BlockSchema.objects.filter(
                pk=changes["block_schema_id"], block_type_id=document.block_type_id
            ).first()
            if schema is None:
                raise InvalidRequestError("Must migrate block document to a block schema of the same block type.")
            document.block_schema = schema
        document.save()
    return True


def block_document_delete(*, block_document_id: uuid.UUID) -> bool:
    """Delete a block document."""
    with transaction.atomic():
        deleted, _ = BlockDocument.objects.filter(pk=block_document_id).delete()
    return deleted > 0


def blocks_reset() -> None:
    """Delete every block type (with its schemas and documents) and re-seed the system types."""
    BlockType.objects.all().delete()
    install_system_block_types()
