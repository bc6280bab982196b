"""Base viewset and serializer plumbing shared by every resource."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api import fields
from orion_project.api.errors import RequestValidationError, RouteNotFound, pydantic_errors
from orion_project.api.fields import StrictSerializer
from orion_project.api.filtering import (
    checked_limit,
    filterset_class,
    limit_field,
    offset_field,
    paginate,
    sort_field,
    validate_body,
)
from orion_project.filtering import ObjectFilter, SortSpec
from orion_project.prepared import by_id_like, is_tenant_model


class OrionModelSerializer(serializers.ModelSerializer):
    """Read serializer base: model fields map to the API's wire types.

    Datetimes and UUIDs are handed to the JSON renderer as objects (it writes ISO-8601
    with ``+00:00``), durations become float seconds, JSON columns pass through.
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: fields.DateTimeField,
        models.UUIDField: fields.UUIDField,
        models.JSONField: fields.AnyJSONField,
        models.DurationField: fields.TimedeltaField,
        models.TextField: fields.StrField,
        models.CharField: fields.StrField,
    }
    serializer_related_field = serializers.PrimaryKeyRelatedField

    # A resource whose rows are rendered by one hand-written function ``(row, now) ->
    # wire dict`` names it here; the serializer then only documents the shape, and the
    # viewset calls the function without building a serializer per response.
    render: ClassVar[Any] = None  # Callable[[row, datetime], dict] | None


def parse_path_uuid(value: str, name: str = "id") -> uuid.UUID:
    """A UUID from the URL path, or the reference's 422 for ``loc: ["path", name]``."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise RequestValidationError(
            [{"loc": ["path", name], "msg": "value is not a valid uuid", "type": "type_error.uuid"}]
        ) from None


class OrionViewSet(viewsets.GenericViewSet):
    """Shared behaviour of the resource viewsets.

    Subclasses set ``queryset``, ``not_found_detail`` (the 404 text of item routes) and,
    for filterable resources, ``object_filter`` and ``sort_spec``.

    Every request is for one workspace (``request.workspace``, set at the door by
    ``orion_project.workspaces``): :attr:`workspace_id` is what handlers pass to selectors
    and services, and :meth:`get_queryset` / :meth:`get_object` read only that
    workspace's rows, so an id of another workspace is a 404 like an unknown one.
    """

    lookup_field = "pk"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[^/]+"
    not_found_detail = "Not found"
    object_filter: ObjectFilter | None = None
    sort_spec: SortSpec | None = None
    schema_tags: tuple[str, ...] = ()
    # POST-only actions whose last path segment is also a name an item route must reach:
    # ``{action: (the item route's URL kwarg, {method: item handler})}``; see
    # :meth:`http_method_not_allowed`.
    names_shadowed_by_actions: ClassVar[dict[str, tuple[str, dict[str, str]]]] = {}

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """405, unless the path is an action's that is also an object's name.

        The reference tries its routes in turn until one serves the method, so
        ``GET /work_pools/filter`` reads a pool named ``filter`` although ``POST`` on the
        same path is the filter route. Django picks the route by the path alone, so the
        action's route hands such a request to the item route with the segment as the name.
        """
        for action in (getattr(self, "action_map", None) or {}).values():
            shadowed = self.names_shadowed_by_actions.get(action)
            if shadowed is None:
                continue
            kwarg, handlers = shadowed
            handler = handlers.get((request.method or "").lower())
            if handler is not None:
                segment = getattr(self, action).url_path.rsplit("/", 1)[-1]
                return getattr(self, handler)(request, *args, **{**kwargs, kwarg: segment})
        return super().http_method_not_allowed(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        """Nothing: an API request is authenticated at the door
        (``access_app.middleware``), and DRF has no authentication classes to run
        (``REST_FRAMEWORK``); ``request.user`` is still worked out if anything asks."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        """Every API response is JSON: skip DRF's per-request negotiation over one renderer."""
        renderer = self.renderer_classes[0]()
        return renderer, renderer.media_type

    @property
    def workspace_id(self) -> int:
        """The id of the workspace this request is for."""
        return self.request.workspace.id  # type: ignore[no-any-return]

    def get_queryset(self) -> QuerySet[Any]:
        """The class's ``queryset``, only this workspace's rows of a workspace's model."""
        queryset = super().get_queryset()
        if is_tenant_model(queryset.model):
            queryset = queryset.filter(workspace_id=self.workspace_id)
        return queryset

    def body(self, serializer_class: type[StrictSerializer]) -> dict[str, Any]:
        """The request body validated by ``serializer_class`` (422 on any error)."""
        return validate_body(serializer_class, self.request.data)

    def object_id(self, name: str = "id") -> uuid.UUID:
        return parse_path_uuid(self.kwargs[name], name)

    def get_object(self) -> Any:
        """The object named by the ``id`` path parameter, or 404 ``{"detail": ...}``.

        Read through the compiled by-id read of the class's ``queryset``
        (``orion_project.prepared.by_id``) unless the view builds its queryset per request.
        """
        object_id = self.object_id()
        queryset = self.queryset
        prepared = None
        if isinstance(queryset, QuerySet) and type(self).get_queryset is OrionViewSet.get_queryset:
            prepared = by_id_like(queryset)
        if prepared is not None:
            instance = prepared.get(object_id, workspace_id=self.workspace_id if prepared.tenant else None)
        else:
            # Not ``.first()``: its ORDER BY pk costs compile time and the pk is unique anyway.
            instance = next(iter(self.get_queryset().filter(pk=object_id)), None)
        if instance is None:
            raise RouteNotFound(self.not_found_detail)
        return instance

    def matching(self, data: dict[str, Any]) -> QuerySet[Any]:
        """The one place a validated filter body becomes this resource's queryset: what
        the filter route pages and the count route counts (``orion_project.api.actions``)."""
        raise NotImplementedError(f"{type(self).__name__} has no filter")

    def read(self, instance: Any, status_code: int = status.HTTP_200_OK) -> Response:
        """Respond with one object in its read shape."""
        render = self._render()
        if render is not None:
            return Response(render(instance, timezone.now()), status=status_code)
        return Response(self.get_serializer(instance).data, status=status_code)

    def page(self, queryset: QuerySet[Any], data: dict[str, Any]) -> Response:
        """Sort, paginate and serialize a filtered queryset (body keys sort/limit/offset)."""
        return self.rows(self._page_of(queryset, data))

    def rows(self, instances: Any) -> Response:
        """Respond with a list of objects (a page a selector read) in their read shape."""
        render = self._render()
        if render is not None:
            now = timezone.now()
            return Response([render(instance, now) for instance in instances])
        return Response(self.get_serializer(instances, many=True).data)

    def _render(self) -> Callable[[Any, dt.datetime], dict[str, Any]] | None:
        """The serializer's row -> wire function, if it has one (``OrionModelSerializer.render``).

        DRF's serializer would call the same function; what it adds per response (a
        serializer instance, its context, a ``ReturnDict``) costs more than rendering a
        run, and the JSON written is the same.
        """
        return getattr(self.get_serializer_class(), "render", None)

    def _page_of(self, queryset: QuerySet[Any], data: dict[str, Any]) -> QuerySet[Any]:
        if self.sort_spec is not None:
            queryset = queryset.order_by(*self.sort_spec.order_by(data.get("sort")))
        return paginate(queryset, limit=data.get("limit"), offset=data.get("offset") or 0)

    def query_string_list(self, request: Request) -> Response:
        """``GET /x/``: the resource's filter read from the query string via django-filter.

        Parameters are named after the JSON filter (``name``, ``name__like``,
        ``tags__all=a,b``, ``state__type=RUNNING,FAILED``) and combined with AND;
        ``sort``, ``limit`` and ``offset`` work as in the POST body.
        """
        assert self.object_filter is not None
        queryset = self.get_queryset()
        filterset = filterset_class(self.object_filter, queryset.model)
        queryset = filterset(request.query_params, queryset=queryset).qs
        data: dict[str, Any] = {"offset": 0}
        for key in ("limit", "offset"):
            if key in request.query_params:
                data[key] = _query_int(request.query_params[key], key)
        if "sort" in request.query_params and self.sort_spec is not None:
            sort = request.query_params["sort"]
            if sort not in self.sort_spec.orders:
                field = sort_field(self.sort_spec)
                raise RequestValidationError(
                    [
                        {
                            "loc": ["query", "sort"],
                            "msg": field.error_messages["type_error.enum"],
                            "type": "type_error.enum",
                            "ctx": {"enum_values": list(self.sort_spec.orders)},
                        }
                    ]
                )
            data["sort"] = sort
        checked_limit(data.get("limit"))
        return self.page(queryset, data)


def _query_int(raw: str, name: str) -> int:
    """``limit`` / ``offset`` from the query string, validated by the body's own fields
    (so the same bounds hold: an offset past the integer range is a 422 at the door)."""
    field = offset_field() if name == "offset" else limit_field()
    try:
        return int(field.run_validation(raw))
    except serializers.ValidationError as error:
        raise RequestValidationError(pydantic_errors(error.detail, ("query", name))) from None
