"""Reads of block types, schemas and documents, combining their filters (reference §C.1).

Types and schemas are shared by every workspace; every read of documents takes the
workspace it reads.
"""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, Q, QuerySet

from blocks_app.filters import BLOCK_DOCUMENT_FILTER, BLOCK_SCHEMA_FILTER, BLOCK_TYPE_FILTER
from blocks_app.models import BlockDocument, BlockSchema, BlockType
from orion_project.filtering import Condition, FilterBody, narrowed


def block_types_matching(*, filters: FilterBody) -> QuerySet[BlockType]:
    """Block types matching ``block_types`` that have a schema matching ``block_schemas``."""
    body = filters or {}
    conditions: list[Condition] = [BLOCK_TYPE_FILTER.to_q(body.get("block_types"))]
    if body.get("block_schemas") is not None:
        schemas = BLOCK_SCHEMA_FILTER.apply(
            BlockSchema.objects.filter(block_type_id=OuterRef("pk")), body["block_schemas"]
        )
        conditions.append(Q(Exists(schemas)))
    return narrowed(BlockType.objects.all(), conditions)


def block_type_by_slug(slug: str) -> BlockType | None:
    return BlockType.objects.filter(slug=slug).first()


def block_schemas_with_type() -> QuerySet[BlockSchema]:
    """Block schemas with their type joined (the response embeds it)."""
    return BlockSchema.objects.select_related("block_type")


def block_schemas_matching(*, filters: FilterBody) -> QuerySet[BlockSchema]:
    return BLOCK_SCHEMA_FILTER.apply(block_schemas_with_type(), (filters or {}).get("block_schemas"))


def block_schema_by_checksum(checksum: str, *, version: str | None) -> BlockSchema | None:
    """The schema with ``checksum``: of the given ``version``, or the newest."""
    schemas = block_schemas_with_type().filter(checksum=checksum)
    if version is not None:
        schemas = schemas.filter(version=version)
    return schemas.order_by("-created").first()


def block_capabilities() -> list[str]:
    """Every capability any block schema declares, sorted."""
    capabilities: set[str] = set()
    for values in BlockSchema.objects.values_list("capabilities", flat=True):
        capabilities.update(values or [])
    return sorted(capabilities)


def block_documents_with_schema() -> QuerySet[BlockDocument]:
    """Block documents with their schema and type joined (the response embeds both); of
    every workspace, so callers narrow it (the viewset's ``get_queryset`` does)."""
    return BlockDocument.objects.select_related("block_schema__block_type", "block_type")


def block_document_get(*, block_document_id: uuid.UUID, workspace_id: int) -> BlockDocument | None:
    """One document of the workspace with its schema and type."""
    return block_documents_with_schema().filter(pk=block_document_id, workspace_id=workspace_id).first()


def block_documents_matching(*, filters: FilterBody, workspace_id: int) -> QuerySet[BlockDocument]:
    """The workspace's documents matching their own filter (anonymous hidden unless the
    filter says otherwise, the reference's default) and their type's and schema's filters."""
    body = filters or {}
    documents = body.get("block_documents")
    if documents is None:
        documents = BLOCK_DOCUMENT_FILTER.defaults
    return narrowed(
        block_documents_with_schema().filter(workspace_id=workspace_id),
        [
            BLOCK_DOCUMENT_FILTER.to_q(documents),
            BLOCK_TYPE_FILTER.to_q(body.get("block_types"), "block_type__"),
            BLOCK_SCHEMA_FILTER.to_q(body.get("block_schemas"), "block_schema__"),
        ],
    )


def named_block_documents_of_type(block_type: BlockType, *, workspace_id: int) -> QuerySet[BlockDocument]:
    """The workspace's named (non-anonymous) documents of a block type, by name."""
    return (
        block_documents_with_schema()
        .filter(workspace_id=workspace_id, block_type=block_type, is_anonymous=False)
        .order_by("name")
    )


def block_document_by_type_slug_and_name(slug: str, name: str, *, workspace_id: int) -> BlockDocument | None:
    """The workspace's document of the type ``slug`` called ``name``."""
    return block_documents_with_schema().filter(workspace_id=workspace_id, block_type__slug=slug, name=name).first()
