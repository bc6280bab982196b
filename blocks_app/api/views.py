"""Block routes (reference §A.1 "Block types", "Block schemas", "Block documents", "Block capabilities")."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from access_app.models import Role
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
from blocks_app.filters import BLOCK_DOCUMENT_FILTER, BLOCK_SCHEMA_FILTER, BLOCK_TYPE_FILTER
from blocks_app.models import BlockSchema, BlockType
from blocks_app.selectors.blocks import (
    block_capabilities,
    block_document_by_type_slug_and_name,
    block_document_get,
    block_documents_matching,
    block_documents_with_schema,
    block_schema_by_checksum,
    block_schemas_matching,
    block_schemas_with_type,
    block_type_by_slug,
    block_types_matching,
    named_block_documents_of_type,
)
from blocks_app.services.blocks import (
    block_document_create,
    block_document_delete,
    block_document_update,
    block_schema_create,
    block_schema_delete,
    block_type_create,
    block_type_delete,
    block_type_update,
    install_system_block_types,
)
from orion_project.api.actions import delete_route, filter_route, read_route, route, update_route
from orion_project.api.errors import RequestValidationError, RouteNotFound
from orion_project.api.fields import BoolField
from orion_project.api.filtering import paginate, request_serializer
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


def include_secrets(request: Request, asked: bool | None = None) -> bool:
    """Whether an answer shows secret values: asked for (``asked``, from a filter body, or
    else the ``include_secrets`` query parameter, default false) by a caller whose role may
    run flows. A flow process needs the values to load its blocks, so a ``runner`` key sees
    them; a ``viewer`` only reads the workspace, and a secret is a credential to some other
    system, so a viewer's documents come with their secrets hidden, as when not asked."""
    if asked is None:
        asked = _include_secrets_parameter(request)
    principal = getattr(request, "principal", None)
    return asked and (principal is None or principal.may(Role.RUNNER))


def _include_secrets_parameter(request: Request) -> bool:
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


class BlockTypeViewSet(OrionViewSet):
    """Block types: create, read by id or slug, update, delete, filter, their documents."""

    queryset = BlockType.objects.all()
    serializer_class = BlockTypeSerializer
    not_found_detail = BLOCK_TYPE_NOT_FOUND
    schema_tags = ("Block types",)

    def _by_slug(self, slug: str) -> BlockType:
        block_type = block_type_by_slug(slug)
        if block_type is None:
            raise RouteNotFound(BLOCK_TYPE_NOT_FOUND)
        return block_type

    @route("create_block_type", request=BlockTypeCreateSerializer, responses={201: BlockTypeSerializer})
    def create(self, request: Request) -> Response:
        """Create a block type (names starting with 'prefect' are reserved)."""
        block_type = block_type_create(data=self.body(BlockTypeCreateSerializer))
        return self.read(block_type, status.HTTP_201_CREATED)

    retrieve = read_route("read_block_type_by_id", "Get a block type by id.", BlockTypeSerializer)

    partial_update = update_route(
        "update_block_type",
        "Update a block type's URLs, description and code example.",
        BlockTypeUpdateSerializer,
        block_type_update,
    )

    destroy = delete_route(
        "delete_block_type",
        "Delete a block type with its schemas and documents (protected types: 403).",
        block_type_delete,
    )

    filter = filter_route("read_block_types", "Block types matching the filters, by name.", BlockTypesFilterRequest)

    def matching(self, data: dict[str, Any]) -> QuerySet[BlockType]:
        return block_types_matching(filters=data).order_by("name")

    @route("read_block_type_by_slug", get=r"slug/(?P<slug>[^/]+)", responses={200: BlockTypeSerializer})
    def by_slug(self, request: Request, slug: str) -> Response:
        """Get a block type by slug."""
        return self.read(self._by_slug(slug))

    @route(
        "read_block_documents_for_block_type",
        get=r"slug/(?P<slug>[^/]+)/block_documents",
        parameters=[INCLUDE_SECRETS],
        responses={200: BlockDocumentSerializer(many=True)},
    )
    def documents(self, request: Request, slug: str) -> Response:
        """The named (non-anonymous) documents of a block type."""
        block_type = self._by_slug(slug)
        documents = named_block_documents_of_type(block_type, workspace_id=self.workspace_id)
        context = {"include_secrets": include_secrets(request)}
        return Response(BlockDocumentSerializer(documents, many=True, context=context).data)

    @route(
        "read_block_document_by_name_for_block_type",
        get=r"slug/(?P<slug>[^/]+)/block_documents/name/(?P<block_document_name>[^/]+)",
        parameters=[INCLUDE_SECRETS],
        responses={200: BlockDocumentSerializer},
    )
    def document_by_name(self, request: Request, slug: str, block_document_name: str) -> Response:
        """A block document by its type's slug and its name."""
        document = block_document_by_type_slug_and_name(slug, block_document_name, workspace_id=self.workspace_id)
        if document is None:
            raise RouteNotFound(BLOCK_DOCUMENT_NOT_FOUND)
        context = {"include_secrets": include_secrets(request)}
        return Response(BlockDocumentSerializer(document, context=context).data)

    @route("install_system_block_types", post="install_system_block_types", request=None, responses={200: None})
    def install_system_block_types(self, request: Request) -> Response:
        """Make sure the system block types exist (protected); answers `null`. The clients fill
        in their descriptions and post the schemas they use on first use."""
        install_system_block_types()
        return Response(None)


class BlockSchemaViewSet(OrionViewSet):
    """Block schemas: create (idempotent on checksum + version), read, delete, filter."""

    queryset = block_schemas_with_type()
    serializer_class = BlockSchemaSerializer
    not_found_detail = BLOCK_SCHEMA_NOT_FOUND
    schema_tags = ("Block schemas",)

    @route(
        "create_block_schema",
        request=BlockSchemaCreateSerializer,
        responses={200: BlockSchemaSerializer, 201: BlockSchemaSerializer},
    )
    def create(self, request: Request) -> Response:
        """Create a block schema; one with the same checksum and version is returned (200) instead."""
        schema, created = block_schema_create(data=self.body(BlockSchemaCreateSerializer))
        schema = self.get_queryset().get(pk=schema.pk)
        return self.read(schema, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    retrieve = read_route("read_block_schema_by_id", "Get a block schema by id.", BlockSchemaSerializer)

    destroy = delete_route(
        "delete_block_schema", "Delete a block schema (those of protected types: 403).", block_schema_delete
    )

    filter = filter_route(
        "read_block_schemas", "Block schemas matching the filter, newest first.", BlockSchemasFilterRequest
    )

    def matching(self, data: dict[str, Any]) -> QuerySet[BlockSchema]:
        return block_schemas_matching(filters=data).order_by("-created")

    @route(
        "read_block_schema_by_checksum",
        get=r"checksum/(?P<checksum>[^/]+)",
        parameters=[OpenApiParameter("version", OpenApiTypes.STR)],
        responses={200: BlockSchemaSerializer},
    )
    def by_checksum(self, request: Request, checksum: str) -> Response:
        """A block schema by checksum: the given `version`, or the newest."""
        schema = block_schema_by_checksum(checksum, version=request.query_params.get("version"))
        if schema is None:
            raise RouteNotFound(BLOCK_SCHEMA_NOT_FOUND)
        return self.read(schema)


class BlockDocumentViewSet(OrionViewSet):
    """Block documents: create, read (secrets hidden by default), update, delete, filter, count."""

    queryset = block_documents_with_schema()
    serializer_class = BlockDocumentSerializer
    not_found_detail = BLOCK_DOCUMENT_NOT_FOUND
    schema_tags = ("Block documents",)

    @route("create_block_document", request=BlockDocumentCreateSerializer, responses={201: BlockDocumentSerializer})
    def create(self, request: Request) -> Response:
        """Create a block document (anonymous ones get a generated name)."""
        created = block_document_create(data=self.body(BlockDocumentCreateSerializer), workspace_id=self.workspace_id)
        # Read back with the schema and type the answer embeds.
        document = block_document_get(block_document_id=created.pk, workspace_id=self.workspace_id)
        return Response(BlockDocumentSerializer(document).data, status=status.HTTP_201_CREATED)

    @route("read_block_document_by_id", parameters=[INCLUDE_SECRETS], responses={200: BlockDocumentSerializer})
    def retrieve(self, request: Request, id: str) -> Response:
        """Get a block document; secret values are hidden unless `include_secrets=true`."""
        document = self.get_object()
        return Response(BlockDocumentSerializer(document, context={"include_secrets": include_secrets(request)}).data)

    partial_update = update_route(
        "update_block_document_data",
        "Merge new data into a block document (or replace it), or move it to another schema.",
        BlockDocumentUpdateSerializer,
        block_document_update,
    )

    destroy = delete_route("delete_block_document", "Delete a block document.", block_document_delete)

    @route(
        "read_block_documents",
        post="filter",
        request=BlockDocumentsFilterRequest,
        responses={200: BlockDocumentSerializer(many=True)},
    )
    def filter(self, request: Request) -> Response:
        """Block documents matching the filters, by name (anonymous ones hidden by default)."""
        data = self.body(BlockDocumentsFilterRequest)
        documents = block_documents_matching(filters=data, workspace_id=self.workspace_id).order_by("name")
        rows = paginate(documents, limit=data.get("limit"), offset=data.get("offset") or 0)
        context = {"include_secrets": include_secrets(request, asked=data.get("include_secrets", False))}
        return Response(BlockDocumentSerializer(rows, many=True, context=context).data)

    @route("count_block_documents", post="count", request=BlockDocumentsCountRequest, responses={200: OpenApiTypes.INT})
    def count(self, request: Request) -> Response:
        """Count block documents matching the filters (2.20)."""
        body = self.body(BlockDocumentsCountRequest)
        return Response(block_documents_matching(filters=body, workspace_id=self.workspace_id).count())


class BlockCapabilityViewSet(OrionViewSet):
    """``GET /block_capabilities/``: every capability any block schema declares."""

    queryset = BlockSchema.objects.all()
    schema_tags = ("Block capabilities",)

    @route("read_available_block_capabilities", responses={200: {"type": "string"}})
    def list(self, request: Request) -> Response:
        """The distinct capabilities across all block schemas, sorted."""
        return Response(block_capabilities())
