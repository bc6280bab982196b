"""A router whose URLs match the reference's slashes exactly.

Collection routes end in a slash (``/flows/``); item routes and actions do not
(``/flows/{id}``, ``/flows/filter``, ``/flows/{id}/set_state``). Nothing redirects:
``APPEND_SLASH`` is off, so a path with the wrong slash is a 404.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django.urls import URLPattern, URLResolver
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, ResolverMatch, RoutePattern
from django.utils.functional import cached_property
from rest_framework.routers import DynamicRoute, Route, SimpleRouter


class OrionRouter(SimpleRouter):
    """``SimpleRouter`` with per-route slashes. Collection actions come before item routes,
    so ``/flows/filter`` is never read as an id."""

    routes = [
        Route(
            url=r"^{prefix}/$",
            mapping={"get": "list", "post": "create", "put": "upsert"},
            name="{basename}-list",
            detail=False,
            initkwargs={"suffix": "List"},
        ),
        DynamicRoute(url=r"^{prefix}/{url_path}$", name="{basename}-{url_name}", detail=False, initkwargs={}),
        Route(
            url=r"^{prefix}/{lookup}$",
            mapping={"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"},
            name="{basename}-detail",
            detail=True,
            initkwargs={"suffix": "Instance"},
        ),
        DynamicRoute(
            url=r"^{prefix}/{lookup}/{url_path}$",
            name="{basename}-{url_name}",
            detail=True,
            initkwargs={},
        ),
    ]


_LITERAL_SEGMENT = re.compile(r"\^([A-Za-z0-9_-]+)(?:/|\$)")


def _first_segment(pattern: URLPattern | URLResolver) -> str | None:
    """The literal first path segment every path this pattern matches starts with, or None
    when the pattern could match paths starting otherwise (converters, regex syntax, or a
    prefix that is not a whole segment)."""
    route = pattern.pattern
    if isinstance(route, RoutePattern):
        text = str(route)
        head = text.split("<", 1)[0]
        if "/" in head:
            return head.split("/", 1)[0] or None
        return text if isinstance(pattern, URLPattern) and "<" not in text and text else None
    if isinstance(route, RegexPattern):
        found = _LITERAL_SEGMENT.match(str(route))
        if found is not None:
            return found.group(1)
    return None


class SegmentIndexedResolver(URLResolver):
    """A ``URLResolver`` that tries only the patterns a path's first segment can match.

    Django tries an include's patterns one by one; the API has some 140, and the flow-run
    routes come late, so every request paid for failing dozens of regular expressions. A
    path whose first segment is ``flow_runs`` can only match patterns that start with that
    literal segment (or start with no literal at all); tried in their original order, the
    answer is the one the full list gives.
    """

    @cached_property
    def _by_segment(self) -> tuple[dict[str, URLResolver], URLResolver]:
        patterns = list(self.url_patterns)
        keys = [_first_segment(pattern) for pattern in patterns]

        def narrowed(segment: str | None) -> URLResolver:
            view = copy.copy(self)
            view.__dict__["url_patterns"] = [p for p, key in zip(patterns, keys, strict=True) if key in (None, segment)]
            return view

        return {key: narrowed(key) for key in set(keys) if key is not None}, narrowed(None)

    def resolve(self, path: Any) -> ResolverMatch:
        path = str(path)
        match = self.pattern.match(path)
        if not match:
            raise Resolver404({"path": path})
        by_segment, rest = self._by_segment
        chosen = by_segment.get(match[0].split("/", 1)[0], rest)
        return URLResolver.resolve(chosen, path)


def segment_indexed(resolver: URLResolver) -> SegmentIndexedResolver:
    """``path("api/", include(...))`` as a ``SegmentIndexedResolver``."""
    return SegmentIndexedResolver(
        resolver.pattern, resolver.urlconf_name, resolver.default_kwargs, resolver.app_name, resolver.namespace
    )
