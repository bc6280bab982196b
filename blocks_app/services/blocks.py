"""Writes to block types, schemas and documents. Each function is one transaction.

Block types and schemas are one catalogue shared by every workspace (the clients register
the types and schemas they use on start); block documents belong to one workspace. So a
developer of any workspace may register and describe types and schemas, but deleting a
type or schema takes only the deleting workspace's documents of it with it, and is refused
(409) while another workspace holds documents of it: no workspace's delete ever reaches
another's documents (the documents' foreign keys are ``PROTECT`` as a second guard).
A single-workspace server keeps the reference's behaviour (the documents go too).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q, QuerySet
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
BLOCK_TYPE_IN_USE = "Block type has block documents in another workspace; it cannot be deleted."
BLOCK_SCHEMA_IN_USE = "Block schema has block documents in another workspace; it cannot be deleted."


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


def block_type_delete(*, block_type_id: uuid.UUID, workspace_id: int) -> bool:
    """Delete a block type with its schemas and this workspace's documents of it;
    protected types refuse (403), and so does a type another workspace has documents of
    (409, see the module docstring)."""
    with transaction.atomic():
        block_type = BlockType.objects.select_for_update().filter(pk=block_type_id).first()
        if block_type is None:
            return False
        if block_type.is_protected:
            raise ForbiddenError("Protected block types cannot be deleted.")
        # A document names its type and its schema; either may lead to this type.
        documents = BlockDocument.objects.filter(
            Q(block_type_id=block_type_id) | Q(block_schema__block_type_id=block_type_id)
        )
        _delete_with_own_documents(block_type, documents, BLOCK_TYPE_IN_USE, workspace_id)
    return True


def _delete_with_own_documents(
    catalogue_entry: BlockType | BlockSchema, documents: QuerySet[BlockDocument], in_use: str, workspace_id: int
) -> None:
    """Delete a locked type or schema after the workspace's own ``documents`` of it; 409
    if any other workspace has documents of it.

    The entry's row is locked: on PostgreSQL a document written meanwhile waits on that
    lock for its foreign-key check (and then fails), SQLite serialises the writers.
    """
    if documents.exclude(workspace_id=workspace_id).exists():
        raise ConflictError(in_use)
    documents.filter(workspace_id=workspace_id).delete()
    try:
        catalogue_entry.delete()
    except ProtectedError:
        raise ConflictError(in_use) from None


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


def block_schema_delete(*, block_schema_id: uuid.UUID, workspace_id: int) -> bool:
    """Delete a block schema with this workspace's documents of it; schemas of protected
    types refuse (403), and so does a schema another workspace has documents of (409)."""
    with transaction.atomic():
        schema = (
            BlockSchema.objects.select_for_update(of=("self",))
            .select_related("block_type")
            .filter(pk=block_schema_id)
            .first()
        )
        if schema is None:
            return False
        if schema.block_type.is_protected:
            raise ForbiddenError("Block schemas for protected block types cannot be deleted.")
        _delete_with_own_documents(
            schema, BlockDocument.objects.filter(block_schema_id=block_schema_id), BLOCK_SCHEMA_IN_USE, workspace_id
        )
    return True


def block_document_create(*, data: Mapping[str, Any], workspace_id: int) -> BlockDocument:
    """Create a block document in the workspace; anonymous ones are named ``anonymous-<uuid>``."""
    fields = dict(data)
    if fields.get("is_anonymous") and not fields.get("name"):
        fields["name"] = f"anonymous-{uuid.uuid4()}"
    schema = BlockSchema.objects.filter(pk=fields["block_schema_id"]).first()
    if schema is None or not BlockType.objects.filter(pk=fields["block_type_id"]).exists():
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL)
    _check_references(fields.get("data") or {}, workspace_id=workspace_id)
    try:
        with transaction.atomic():
            return BlockDocument.objects.create(**fields, workspace_id=workspace_id)
    except IntegrityError:
        raise ConflictError(f'Block already exists: "{fields["name"]}"') from None


def _check_references(data: Mapping[str, Any], *, workspace_id: int) -> None:
    """Every reference to another block document in ``data`` (a top-level value
    ``{"$ref": {"block_document_id": ...}}``, what the clients send for a nested saved
    block) names a document of this workspace; else the reference's answer to a broken
    foreign key (409). A document of another workspace is refused exactly as an unknown id.
    """
    ids: set[uuid.UUID] = set()
    for value in data.values():
        reference = value.get("$ref") if isinstance(value, Mapping) else None
        if not isinstance(reference, Mapping) or "block_document_id" not in reference:
            continue
        try:
            ids.add(uuid.UUID(str(reference["block_document_id"])))
        except ValueError:
            raise ConflictError(INTEGRITY_CONFLICT_DETAIL) from None
    if ids and BlockDocument.objects.filter(workspace_id=workspace_id, pk__in=ids).count() != len(ids):
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL)


def block_document_update(*, block_document_id: uuid.UUID, changes: Mapping[str, Any], workspace_id: int) -> bool:
    """Merge (or replace, with ``merge_existing_data: false``) a document's data and/or
    move it to another schema of its type; ``False`` if the workspace has no such document."""
    with transaction.atomic():
        document = (
            BlockDocument.objects.select_for_update(of=("self",))
            .select_related("block_schema")
            .filter(pk=block_document_id, workspace_id=workspace_id)
            .first()
        )
        if document is None:
            return False
        if changes.get("data") is not None:
            _check_references(changes["data"], workspace_id=workspace_id)
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


def block_document_delete(*, block_document_id: uuid.UUID, workspace_id: int) -> bool:
    """Delete a block document of the workspace."""
    with transaction.atomic():
        deleted, _ = BlockDocument.objects.filter(pk=block_document_id, workspace_id=workspace_id).delete()
    return deleted > 0


def blocks_reset() -> None:
    """Delete every block document, block type and schema (of every workspace: a reset of
    the whole database) and re-seed the system types."""
    BlockDocument.objects.all().delete()
    BlockType.objects.all().delete()
    install_system_block_types()
