"""Artifact routes (2.20 ``/artifacts/``): create, read, update, delete, filter, count,
and the latest artifact of each key (``/artifacts/latest/...``, ``/artifacts/{key}/latest``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import count_route, delete_route, filter_route, route
from orion_project.api.errors import RouteNotFound
from orion_project.api.fields import AnyJSONField, PatternNameField, StrField, StrictSerializer, UUIDField
from orion_project.api.filtering import paginate, request_serializer
from orion_project.api.viewsets import OrionModelSerializer, OrionViewSet
from runs_app.filters import (
    ARTIFACT_COLLECTION_FILTER,
    ARTIFACT_COLLECTION_SORT,
    ARTIFACT_FILTER,
    ARTIFACT_SORT,
    RELATED_RUN_FILTERS,
)
from runs_app.models import Artifact, ArtifactCollection
from runs_app.selectors.artifacts import (
    artifact_collections_matching,
    artifact_get,
    artifact_latest,
    artifacts_matching,
)
from runs_app.services.artifacts import artifact_create, artifact_delete, artifact_update

ARTIFACT_NOT_FOUND = "Artifact not found."
ARTIFACT_FILTERS = {"artifacts": ARTIFACT_FILTER, **RELATED_RUN_FILTERS}
COLLECTION_FILTERS = {"artifacts": ARTIFACT_COLLECTION_FILTER, **RELATED_RUN_FILTERS}

ArtifactsFilterRequest = request_serializer(
    "ArtifactsFilterRequest", ARTIFACT_FILTERS, sort=ARTIFACT_SORT, paginated=True
)
ArtifactsCountRequest = request_serializer("ArtifactsCountRequest", ARTIFACT_FILTERS)
LatestArtifactsFilterRequest = request_serializer(
    "LatestArtifactsFilterRequest", COLLECTION_FILTERS, sort=ARTIFACT_COLLECTION_SORT, paginated=True
)
LatestArtifactsCountRequest = request_serializer("LatestArtifactsCountRequest", COLLECTION_FILTERS)


class ArtifactDataField(AnyJSONField):
    """``data``: any JSON. As the reference's ``Union[Dict[str, Any], Any]`` does, a value
    that converts to an object does (a list of pairs, ``""``), with its keys as text."""

    def to_internal_value(self, data: Any) -> Any:
        return as_object(data)


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float)):  # pydantic 1 turns numbers (and booleans) into text
        return str(key)
    raise TypeError(key)


def as_object(value: Any) -> Any:
    """``value`` as an object if Python's ``dict()`` accepts it and its keys are text-like."""
    if value is None or isinstance(value, Mapping):
        return value
    if not isinstance(value, (list, str)):
        return value
    try:
        pairs = dict(cast(Any, value))
        return {_key_text(key): item for key, item in pairs.items()}
    except (TypeError, ValueError):
        return value


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class MetadataField(serializers.Field):
    """``metadata_``: an object whose values are text (numbers are turned into text)."""

    default_error_messages = {"type_error.dict": "value is not a valid dict", "type_error.str": "str type expected"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, Mapping):
            self.fail("type_error.dict")
        result: dict[str, str] = {}
        errors: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, str):
                result[key] = value
            elif isinstance(value, (int, float)):
                result[key] = str(value)
            else:
                errors[key] = [serializers.ErrorDetail(str(self.error_messages["type_error.str"]), "type_error.str")]
        if errors:
            raise serializers.ValidationError(errors)
        return result

    def to_representation(self, value: Any) -> Any:
        return value


def artifact_key_field() -> PatternNameField:
    return PatternNameField(
        pattern=r"^[a-z0-9-]*$", rule="Artifact key must only contain lowercase letters, numbers, and dashes."
    )


class ArtifactCreateSerializer(StrictSerializer):
    """Body of ``POST /artifacts/``; every key is optional."""

    key = artifact_key_field()
    type = StrField()
    description = StrField()
    data = ArtifactDataField()  # type: ignore[assignment]  # a body field, not Serializer.data
    metadata_ = MetadataField()
    flow_run_id = UUIDField()
    task_run_id = UUIDField()


class ArtifactUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /artifacts/{id}``: only the keys sent change."""

    data = ArtifactDataField()  # type: ignore[assignment]  # a body field, not Serializer.data
    description = StrField()
    metadata_ = MetadataField()


class ArtifactSerializer(OrionModelSerializer):
    """An artifact as the API returns it (``metadata_`` on the wire)."""

    metadata_ = AnyJSONField(source="metadata")

    class Meta:
        model = Artifact
        fields = (
            "id", "created", "updated", "key", "type", "description", "data", "metadata_", "flow_run_id",
            "task_run_id",
        )  # fmt: skip


class ArtifactCollectionSerializer(OrionModelSerializer):
    """The latest artifact of a key (``ArtifactCollection``)."""

    metadata_ = AnyJSONField(source="metadata")

    class Meta:
        model = ArtifactCollection
        fields: tuple[str, ...] = (
            "id", "created", "updated", "key", "latest_id", "type", "description", "data", "metadata_",
            "flow_run_id", "task_run_id",
        )  # fmt: skip


class LatestArtifactSerializer(ArtifactCollectionSerializer):
    """``GET /artifacts/{key}/latest``: the collection row in the artifact's shape (its own id)."""

    class Meta(ArtifactCollectionSerializer.Meta):
        fields = tuple(field for field in ArtifactCollectionSerializer.Meta.fields if field != "latest_id")


def _columns(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validated body keys as model columns (``metadata_`` is stored as ``metadata``)."""
    return {("metadata" if key == "metadata_" else key): value for key, value in data.items()}


class ArtifactViewSet(OrionViewSet):
    """Artifacts and the latest artifact per key."""

    queryset = Artifact.objects.all()
    serializer_class = ArtifactSerializer
    not_found_detail = ARTIFACT_NOT_FOUND
    sort_spec = ARTIFACT_SORT
    schema_tags = ("Artifacts",)

    @route("create_artifact", request=ArtifactCreateSerializer, responses={201: ArtifactSerializer})
    def create(self, request: Request) -> Response:
        """Store an artifact; one with a key becomes the latest of its key."""
        artifact = artifact_create(data=_columns(self.body(ArtifactCreateSerializer)), workspace_id=self.workspace_id)
        return self.read(artifact, status.HTTP_201_CREATED)

    @route("read_artifact", responses={200: ArtifactSerializer})
    def retrieve(self, request: Request, id: str) -> Response:
        """Get an artifact by id."""
        artifact = artifact_get(artifact_id=self.object_id(), workspace_id=self.workspace_id)
        if artifact is None:
            raise RouteNotFound(ARTIFACT_NOT_FOUND)
        return self.read(artifact)

    @route("update_artifact", request=ArtifactUpdateSerializer, responses={204: None})
    def partial_update(self, request: Request, id: str) -> Response:
        """Change an artifact's data, description or metadata. As in the 2.20 reference, only
        the latest artifact of a key answers 204; others are changed but answer 404."""
        artifact_id = self.object_id()
        changes = _columns(self.body(ArtifactUpdateSerializer))
        if not artifact_update(artifact_id=artifact_id, changes=changes, workspace_id=self.workspace_id):
            raise RouteNotFound(ARTIFACT_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    destroy = delete_route(
        "delete_artifact",
        "Delete an artifact; the next newest of its key becomes the latest.",
        artifact_delete,
    )

    @route(
        "read_latest_artifact",
        detail=True,
        get="latest",
        parameters=[OpenApiParameter("id", str, OpenApiParameter.PATH, description="The artifact key.")],
        responses={200: LatestArtifactSerializer},
    )
    def latest(self, request: Request, id: str) -> Response:
        """The latest artifact of a key."""
        collection = artifact_latest(key=id, workspace_id=self.workspace_id)
        if collection is None:
            raise RouteNotFound(ARTIFACT_NOT_FOUND)
        return Response(LatestArtifactSerializer(collection).data)

    filter = filter_route(
        "read_artifacts",
        "Artifacts matching the filters, sorted (default ID_DESC) and paginated.",
        ArtifactsFilterRequest,
    )

    def matching(self, data: dict[str, Any]) -> QuerySet[Artifact]:
        return artifacts_matching(filters=data, workspace_id=self.workspace_id)

    count = count_route("count_artifacts", "Count artifacts matching the filters.", ArtifactsCountRequest)

    @route(
        "read_latest_artifacts",
        post="latest/filter",
        request=LatestArtifactsFilterRequest,
        responses={200: ArtifactCollectionSerializer(many=True)},
    )
    def latest_filter(self, request: Request) -> Response:
        """The latest artifact of each key matching the filters, sorted (default ID_DESC) and paginated."""
        data = self.body(LatestArtifactsFilterRequest)
        rows = artifact_collections_matching(filters=data, workspace_id=self.workspace_id)
        rows = rows.order_by(*ARTIFACT_COLLECTION_SORT.order_by(data.get("sort")))
        offset = data.get("offset") or 0
        return Response(
            ArtifactCollectionSerializer(paginate(rows, limit=data.get("limit"), offset=offset), many=True).data
        )

    @route(
        "count_latest_artifacts",
        post="latest/count",
        request=LatestArtifactsCountRequest,
        responses={200: OpenApiTypes.INT},
    )
    def latest_count(self, request: Request) -> Response:
        """Count the keys whose latest artifact matches the filters."""
        data = self.body(LatestArtifactsCountRequest)
        rows = artifact_collections_matching(filters=data, workspace_id=self.workspace_id)
        return Response(rows.count())
