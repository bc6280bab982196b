"""How a route is declared: its OpenAPI operation and, for an extra action, its method and
path, in one decorator (:func:`route`); and the routes every resource has, built from
what differs between resources (:func:`read_route`, :func:`delete_route`,
:func:`filter_route`, :func:`count_route`, :func:`list_route`).

Each resource used to spell these out: an ``extend_schema`` block, an ``@action`` and a
handler that validated the body and called one selector, the same lines in every viewset.
A route is now its operation id, its description and the one function that differs (the
selector, the delete service); the handler and its schema are written once, here, so a
rule about them (a count takes the filter's body, a missing object is the view's 404)
holds for every resource alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.errors import RouteNotFound
from orion_project.api.fields import StrictSerializer
from orion_project.api.filtering import checked_limit
from orion_project.filtering import SortSpec

F = TypeVar("F", bound=Callable[..., Any])

METHODS = ("get", "post", "put", "patch", "delete")


def summary_of(operation_id: str) -> str:
    """The summary the reference shows for an operation: its id in title case
    (``read_flow_runs`` → ``Read Flow Runs``)."""
    return " ".join(word[:1].upper() + word[1:] for word in operation_id.split("_"))


def route(
    operation_id: str,
    description: str | None = None,
    *,
    summary: str | None = None,
    detail: bool = False,
    url_name: str | None = None,
    get: str | None = None,
    post: str | None = None,
    put: str | None = None,
    patch: str | None = None,
    delete: str | None = None,
    **schema: Any,
) -> Callable[[F], Any]:
    """Document a handler as the operation ``operation_id`` and, when a method is given
    with its path (``post="filter"``), route it as an extra action (``detail``: under
    ``{id}/``).

    The operation's description is the handler's docstring (its lines joined) unless
    given; its summary is the id in title case unless given; ``schema`` is what
    ``extend_schema`` takes (``request``, ``responses``, ``parameters``).
    """
    paths = {method: path for method, path in zip(METHODS, (get, post, put, patch, delete), strict=True) if path}
    assert len(paths) <= 1, "one method per route"

    def decorate(handler: F) -> Any:
        text = description if description is not None else " ".join((handler.__doc__ or "").split())
        assert text, f"{handler.__qualname__}: an operation needs a description (its docstring)"
        routed: Any = handler
        for method, path in paths.items():
            routed = action(detail=detail, methods=[method], url_path=path, url_name=url_name)(routed)  # type: ignore[list-item]
        document = extend_schema(
            operation_id=operation_id, summary=summary or summary_of(operation_id), description=text, **schema
        )
        return document(routed)

    return decorate


def _named(handler: F, name: str) -> F:
    """``handler`` under the attribute name it is assigned to (DRF names actions by it)."""
    handler.__name__ = handler.__qualname__ = name
    return handler


def read_route(operation_id: str, description: str, response: Any, **schema: Any) -> Callable[..., Response]:
    """``GET /x/{id}``: the object (the view's ``get_object``) in its read shape."""

    @route(operation_id, description, responses={200: response}, **schema)
    def retrieve(self: Any, request: Request, id: str) -> Response:
        return self.read(self.get_object())  # type: ignore[no-any-return]

    return retrieve


def _id_keyword(service: Callable[..., Any]) -> str:
    """The keyword a service takes the object's id by: its one keyword-only parameter
    besides ``changes`` and ``workspace_id`` (``flow_delete(*, flow_id)``,
    ``flow_run_update(*, flow_run_id, changes)``)."""
    names = [
        name
        for name, parameter in inspect.signature(service).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name not in {"changes", "workspace_id"}
    ]
    assert len(names) == 1, f"{service.__qualname__} must take the id as its one keyword-only argument"
    return names[0]


def delete_route(operation_id: str, description: str, delete: Callable[..., bool]) -> Callable[..., Response]:
    """``DELETE /x/{id}``: ``delete(<its id keyword>=id)``; 204, or the view's 404 when it
    deleted nothing."""
    id_keyword = _id_keyword(delete)
    in_workspace = "workspace_id" in inspect.signature(delete).parameters

    @route(operation_id, description, responses={204: None})
    def destroy(self: Any, request: Request, id: str) -> Response:
        scope = {"workspace_id": self.workspace_id} if in_workspace else {}
        if not delete(**{id_keyword: self.object_id()}, **scope):
            raise RouteNotFound(self.not_found_detail)
        return Response(status=status.HTTP_204_NO_CONTENT)

    return destroy


class _OfViewSet:
    """A route whose schema names the serializer of the viewset it is declared on: built
    when that class is (``__set_name__``), since the declaration runs before the class
    exists."""

    def __init__(self, build: Callable[[type[Any]], Callable[..., Response]]) -> None:
        self.build = build

    def __set_name__(self, owner: type[Any], name: str) -> None:
        setattr(owner, name, self.build(owner))


def filter_route(
    operation_id: str,
    description: str,
    body: type[StrictSerializer],
    *,
    page: Callable[..., list[Any]] | None = None,
    name: str = "filter",
    path: str = "filter",
    summary: str | None = None,
) -> Any:
    """``POST /x/filter``: the validated ``body``, then the view's ``matching(body)``
    sorted and paginated, or a selector's ready ``page(filters=body, limit=)`` (a page
    compiled once per body); the rows in the shape of the view's ``serializer_class``."""

    def handler(self: Any, request: Request) -> Response:
        data = self.body(body)
        if page is not None:
            return self.rows(page(filters=data, limit=checked_limit(data.get("limit")), workspace_id=self.workspace_id))  # type: ignore[no-any-return]
        return self.page(self.matching(data), data)  # type: ignore[no-any-return]

    def build(viewset: type[Any]) -> Callable[..., Response]:
        rows = viewset.serializer_class(many=True)
        documented = route(operation_id, description, summary=summary, post=path, request=body, responses={200: rows})
        return documented(_named(handler, name))  # type: ignore[no-any-return]

    return _OfViewSet(build)


def count_route(
    operation_id: str,
    description: str,
    body: type[StrictSerializer],
    *,
    count: Callable[..., int] | None = None,
    name: str = "count",
    path: str = "count",
    summary: str | None = None,
) -> Callable[..., Response]:
    """``POST /x/count``: how many rows the view's ``matching(body)`` holds (the queryset
    its filter route pages, so the two cannot drift), or a selector's ``count(filters=body)``."""

    def handler(self: Any, request: Request) -> Response:
        data = self.body(body)
        return Response(
            count(filters=data, workspace_id=self.workspace_id) if count is not None else self.matching(data).count()
        )

    documented = route(
        operation_id, description, summary=summary, post=path, request=body, responses={200: OpenApiTypes.INT}
    )
    return documented(_named(handler, name))


def update_route(
    operation_id: str, description: str, body: type[StrictSerializer], update: Callable[..., bool]
) -> Callable[..., Response]:
    """``PATCH /x/{id}``: ``update(<its id keyword>=id, changes=<validated body>)``; 204,
    or the view's 404 when nothing was updated."""
    id_keyword = _id_keyword(update)

    @route(operation_id, description, request=body, responses={204: None})
    def partial_update(self: Any, request: Request, id: str) -> Response:
        object_id = self.object_id()
        if not update(**{id_keyword: object_id}, changes=self.body(body)):
            raise RouteNotFound(self.not_found_detail)
        return Response(status=status.HTTP_204_NO_CONTENT)

    return partial_update


def query_parameters(sort: SortSpec) -> list[OpenApiParameter]:
    """The query string's ``sort``, ``limit`` and ``offset`` of a ``GET /x/`` route."""
    return [
        OpenApiParameter("sort", OpenApiTypes.STR, enum=list(sort.orders)),
        OpenApiParameter("limit", OpenApiTypes.INT),
        OpenApiParameter("offset", OpenApiTypes.INT),
    ]


def list_route(
    operation_id: str, description: str, response: Any, parameters: list[OpenApiParameter] | None = None
) -> Callable[..., Response]:
    """``GET /x/``: the resource's filter read from the query string
    (``OrionViewSet.query_string_list``); ``parameters`` documents the query string
    beyond the filter's own (:func:`query_parameters`)."""

    def handler(self: Any, request: Request) -> Response:
        return self.query_string_list(request)  # type: ignore[no-any-return]

    schema: dict[str, Any] = {"parameters": parameters} if parameters is not None else {}
    documented = route(operation_id, description, responses={200: response}, **schema)
    return documented(_named(handler, "list"))
