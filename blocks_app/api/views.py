"""Block routes (reference §A.1 "Block types", "Block schemas", "Block documents", "Block capabilities")."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from blocks_app import services
from blocks_app.api.filters import BLOCK_DOCUMENT_FILTER, BLOCK_SCHEMA_FILTER, BLOCK_TYPE_FILTER
from blocks_app.api.serializers import (
    BlockDocumentCreateSerializer,
    BlockDocumentSerializer,
    BlockDocumentUpdateSerializer,
    BlockSchemaCreateSerializer,
    BlockSchemaSerializer,
    BlockTypeCreateSerializer,
    BlockTypeSerializer,
    BlockTypeUpdateSerializer,
)
from blocks_app.models import BlockDocument, BlockSchema, BlockType
from orion_project.api.errors import RequestValidationError, RouteNotFound
from orion_project.api.fields import BoolField
from orion_project.api.filtering import combine, paginate, request_serializer
from orion_project.api.viewsets import OrionViewSet

BLOCK_TYPE_NOT_FOUND = "Block type not found"
BLOCK_SCHEMA_NOT_FOUND = "Block schema not found"
BLOCK_DOCUMENT_NOT_FOUND = "Block document not found"
INCLUDE_SECRETS = OpenApiParameter("include_secrets", OpenApiTypes.BOOL, description="Show secret values.")

BlockTypesFilterRequest = request_serializer(
    "BlockTypesFilterRequest",
    {"block_types": BLOCK_TYPE_FILTER, "block_schemas": BLOCK_SCHEMA_FILTER},
    paginated=True,
)
BlockSchemasFilterRequest = request_serializer(
    "BlockSchemasFilterRequest", {"block_schemas": BLOCK_SCHEMA_FILTER}, paginated=True
)
BLOCK_DOCUMENT_FILTERS = {
    "block_documents": BLOCK_DOCUMENT_FILTER,
    "block_types": BLOCK_TYPE_FILTER,
    "block_schemas": BLOCK_SCHEMA_FILTER,
}
BlockDocumentsFilterRequest = request_serializer(
    "BlockDocumentsFilterRequest",
    BLOCK_DOCUMENT_FILTERS,
    paginated=True,
    extra={"include_secrets": BoolField(default=False)},
)
BlockDocumentsCountRequest = request_serializer("BlockDocumentsCountRequest", BLOCK_DOCUMENT_FILTERS)


def include_secrets(request: Request) -> bool:
    """The ``include_secrets`` query parameter (default false)."""
    raw = request.query_params.get("include_secrets")
    if raw is None:
        return False
    try:
        return bool(BoolField().run_validation(raw))
    except Exception:
        raise RequestValidationError(
            [
                {
                    "loc": ["query", "include_secrets"],
                    "msg": "value could not be parsed to a boolean",
                    "type": "type_error.bool",
                }
            ]
        ) from None


def documents_queryset() -> QuerySet[BlockDocument]:
    """Block documents with their schema and type joined (the response embeds both)."""
    return BlockDocument.objects.select_related("block_schema__block_type", "block_type")


def documents_matching(data: dict[str, Any]) -> QuerySet[BlockDocument]:
    """Documents matching their own filter (anonymous hidden by default) and their type's
    and schema's filters."""
    documents = data.get("block_documents")
    if documents is None:
        documents = {"is_anonymous": {"eq_": False}}
    condition = combine(
        [
            BLOCK_DOCUMENT_FILTER.to_q(documents),
            BLOCK_TYPE_FILTER.to_q(data.get("block_types"), "block_type__"),
            BLOCK_SCHEMA_FILTER.to_q(data.get("block_schemas"), "block_schema__"),
        ],
        "and_",
    )
    queryset = documents_queryset()
    return queryset if condition is None else queryset.filter(condition)


class BlockTypeViewSet(OrionViewSet):
    """Block types: create, read by id or slug, update, delete, filter, their documents."""

    queryset = BlockType.objects.all()
    serializer_class = BlockTypeSerializer
    not_found_detail = BLOCK_TYPE_NOT_FOUND
    schema_tags = ("Block types",)

    def _by_slug(self, slug: str) -> BlockType:
        block_type = BlockType.objects.filter(slug=slug).first()
        if block_type is None:
            raise RouteNotFound(BLOCK_TYPE_NOT_FOUND)
        return block_type

    @extend_schema(
        operation_id="create_block_type",
        summary="Create Block Type",
        description="Create a block type (names starting with 'prefect' are reserved).",
        request=BlockTypeCreateSerializer,
        responses={201: BlockTypeSerializer},
    )
    def create(self, request: Request) -> Response:
        block_type = services.block_type_create(data=self.body(BlockTypeCreateSerializer))
        return self.read(block_type, status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="read_block_type_by_id",
        summary="Read Block Type By Id",
        description="Get a block type by id.",
        responses={200: BlockTypeSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return self.read(self.get_object())

    @extend_schema(
        operation_id="update_block_type",
        summary="Update Block Type",
        description="Update a block type's URLs, description and code example.",
        request=BlockTypeUpdateSerializer,
        responses={204: None},
    )
    def partial_update(self, request: Request, id: str) -> Response:
        block_type_id = self.object_id()
        changes = self.body(BlockTypeUpdateSerializer)
        if not services.block_type_update(block_type_id=block_type_id, changes=changes):
            raise RouteNotFound(BLOCK_TYPE_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="delete_block_type",
        summary="Delete Block Type",
        description="Delete a block type with its schemas and documents (protected types: 403).",
        responses={204: None},
    )
    def destroy(self, request: Request, id: str) -> Response:
        if not services.block_type_delete(block_type_id=self.object_id()):
            raise RouteNotFound(BLOCK_TYPE_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="read_block_types",
        summary="Read Block Types",
        description="Block types matching the filters, by name.",
        request=BlockTypesFilterRequest,
        responses={200: BlockTypeSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(BlockTypesFilterRequest)
        conditions = [BLOCK_TYPE_FILTER.to_q(data.get("block_types"))]
        if data.get("block_schemas") is not None:
            schemas = BLOCK_SCHEMA_FILTER.apply(
                BlockSchema.objects.filter(block_type_id=OuterRef("pk")), data["block_schemas"]
            )
            conditions.append(Q(Exists(schemas)))
        condition = combine(conditions, "and_")
        queryset = BlockType.objects.all() if condition is None else BlockType.objects.filter(condition)
        return self.page(queryset.order_by("name"), data)

    @extend_schema(
        operation_id="read_block_type_by_slug",
        summary="Read Block Type By Slug",
        description="Get a block type by slug.",
        responses={200: BlockTypeSerializer},
    )
    @action(detail=False, methods=["get"], url_path=r"slug/(?P<slug>[^/]+)")
    def by_slug(self, request: Request, slug: str) -> Response:
        return self.read(self._by_slug(slug))

    @extend_schema(
        operation_id="read_block_documents_for_block_type",
        summary="Read Block Documents For Block Type",
        description="The named (non-anonymous) documents of a block type.",
        parameters=[INCLUDE_SECRETS],
        responses={200: BlockDocumentSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], url_path=r"slug/(?P<slug>[^/]+)/block_documents")
    def documents(self, request: Request, slug: str) -> Response:
        block_type = self._by_slug(slug)
        documents = documents_queryset().filter(block_type=block_type, is_anonymous=False).order_by("name")
        context = {"include_secrets": include_secrets(request)}
        return Response(BlockDocumentSerializer(documents, many=True, context=context).data)

    @extend_schema(
        operation_id="read_block_document_by_name_for_block_type",
        summary="Read Block Document By Name For Block Type",
        description="A block document by its type's slug and its name.",
        parameters=[INCLUDE_SECRETS],
        responses={200: BlockDocumentSerializer},
    )
    @action(
        detail=False,
        methods=["get"],
        url_path=r"slug/(?P<slug>[^/]+)/block_documents/name/(?P<block_document_name>[^/]+)",
    )
    def document_by_name(self, request: Request, slug: str, block_document_name: str) -> Response:
        document = documents_queryset().filter(block_type__slug=slug, name=block_document_name).first()
        if document is None:
            raise RouteNotFound(BLOCK_DOCUMENT_NOT_FOUND)
        context = {"include_secrets": include_secrets(request)}
        return Response(BlockDocumentSerializer(document, context=context).data)

    @extend_schema(
        operation_id="install_system_block_types",
        summary="Install System Block Types",
        description=(
            "Make sure the system block types exist (protected); answers `null`. The clients "
            "fill in their descriptions and post the schemas they use on first use."
        ),
        request=None,
        responses={200: None},
    )
    @action(detail=False, methods=["post"], url_path="install_system_block_types")
    def install_system_block_types(self, request: Request) -> Response:
        services.install_system_block_types()
        return Response(None)


class BlockSchemaViewSet(OrionViewSet):
    """Block schemas: create (idempotent on checksum + version), read, delete, filter."""

    queryset = BlockSchema.objects.select_related("block_type")
    serializer_class = BlockSchemaSerializer
    not_found_detail = BLOCK_SCHEMA_NOT_FOUND
    schema_tags = ("Block schemas",)

    @extend_schema(
        operation_id="create_block_schema",
        summary="Create Block Schema",
        description="Create a block schema; one with the same checksum and version is returned (200) instead.",
        request=BlockSchemaCreateSerializer,
        responses={200: BlockSchemaSerializer, 201: BlockSchemaSerializer},
    )
    def create(self, request: Request) -> Response:
        schema, created = services.block_schema_create(data=self.body(BlockSchemaCreateSerializer))
        schema = self.get_queryset().get(pk=schema.pk)
        return self.read(schema, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="read_block_schema_by_id",
        summary="Read Block Schema By Id",
        description="Get a block schema by id.",
        responses={200: BlockSchemaSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return self.read(self.get_object())

    @extend_schema(
        operation_id="delete_block_schema",
        summary="Delete Block Schema",
        description="Delete a block schema (those of protected types: 403).",
        responses={204: None},
    )
    def destroy(self, request: Request, id: str) -> Response:
        if not services.block_schema_delete(block_schema_id=self.object_id()):
            raise RouteNotFound(BLOCK_SCHEMA_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="read_block_schemas",
        summary="Read Block Schemas",
        description="Block schemas matching the filter, newest first.",
        request=BlockSchemasFilterRequest,
        responses={200: BlockSchemaSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(BlockSchemasFilterRequest)
        schemas = BLOCK_SCHEMA_FILTER.apply(self.get_queryset(), data.get("block_schemas"))
        return self.page(schemas.order_by("-created"), data)

    @extend_schema(
        operation_id="read_block_schema_by_checksum",
        summary="Read Block Schema By Checksum",
        description="A block schema by checksum: the given `version`, or the newest.",
        parameters=[OpenApiParameter("version", OpenApiTypes.STR)],
        responses={200: BlockSchemaSerializer},
    )
    @action(detail=False, methods=["get"], url_path=r"checksum/(?P<checksum>[^/]+)")
    def by_checksum(self, request: Request, checksum: str) -> Response:
        schemas = self.get_queryset().filter(checksum=checksum)
        version = request.query_params.get("version")
        if version is not None:
            schemas = schemas.filter(version=version)
        schema = schemas.order_by("-created").first()
        if schema is None:
            raise RouteNotFound(BLOCK_SCHEMA_NOT_FOUND)
        return self.read(schema)


class BlockDocumentViewSet(OrionViewSet):
    """Block documents: create, read (secrets hidden by default), update, delete, filter, count."""

    queryset = documents_queryset()
    serializer_class = BlockDocumentSerializer
    not_found_detail = BLOCK_DOCUMENT_NOT_FOUND
    schema_tags = ("Block documents",)

    @extend_schema(
        operation_id="create_block_document",
        summary="Create Block Document",
        description="Create a block document (anonymous ones get a generated name).",
        request=BlockDocumentCreateSerializer,
        responses={201: BlockDocumentSerializer},
    )
    def create(self, request: Request) -> Response:
        document = services.block_document_create(data=self.body(BlockDocumentCreateSerializer))
        document = documents_queryset().get(pk=document.pk)
        return Response(BlockDocumentSerializer(document).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="read_block_document_by_id",
        summary="Read Block Document By Id",
        description="Get a block document; secret values are hidden unless `include_secrets=true`.",
        parameters=[INCLUDE_SECRETS],
        responses={200: BlockDocumentSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        document = self.get_object()
        return Response(BlockDocumentSerializer(document, context={"include_secrets": include_secrets(request)}).data)

    @extend_schema(
        operation_id="update_block_document_data",
        summary="Update Block Document Data",
        description="Merge new data into a block document (or replace it), or move it to another schema.",
        request=BlockDocumentUpdateSerializer,
        responses={204: None},
    )
    def partial_update(self, request: Request, id: str) -> Response:
        document_id = self.object_id()
        changes = self.body(BlockDocumentUpdateSerializer)
        if not services.block_document_update(block_document_id=document_id, changes=changes):
            raise RouteNotFound(BLOCK_DOCUMENT_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="delete_block_document",
        summary="Delete Block Document",
        description="Delete a block document.",
        responses={204: None},
    )
    def destroy(self, request: Request, id: str) -> Response:
        if not services.block_document_delete(block_document_id=self.object_id()):
            raise RouteNotFound(BLOCK_DOCUMENT_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="read_block_documents",
        summary="Read Block Documents",
        description="Block documents matching the filters, by name (anonymous ones hidden by default).",
        request=BlockDocumentsFilterRequest,
        responses={200: BlockDocumentSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="filter")
    def filter(self, request: Request) -> Response:
        data = self.body(BlockDocumentsFilterRequest)
        documents = documents_matching(data).order_by("name")
        rows = paginate(documents, limit=data.get("limit"), offset=data.get("offset") or 0)
        context = {"include_secrets": data.get("include_secrets", False)}
        return Response(BlockDocumentSerializer(rows, many=True, context=context).data)

    @extend_schema(
        operation_id="count_block_documents",
        summary="Count Block Documents",
        description="Count block documents matching the filters (2.20).",
        request=BlockDocumentsCountRequest,
        responses={200: OpenApiTypes.INT},
    )
    @action(detail=False, methods=["post"], url_path="count")
    def count(self, request: Request) -> Response:
        return Response(documents_matching(self.body(BlockDocumentsCountRequest)).count())


class BlockCapabilityViewSet(OrionViewSet):
    """``GET /block_capabilities/``: every capability any block schema declares."""

    queryset = BlockSchema.objects.all()
    schema_tags = ("Block capabilities",)

    @extend_schema(
        operation_id="read_available_block_capabilities",
        summary="Read Available Block Capabilities",
        description="The distinct capabilities across all block schemas, sorted.",
        # A list action: the generator makes this the item type of an array.
        responses={200: {"type": "string"}},
    )
    def list(self, request: Request) -> Response:
        capabilities: set[str] = set()
        for values in BlockSchema.objects.values_list("capabilities", flat=True):
            capabilities.update(values or [])
        return Response(sorted(capabilities))
