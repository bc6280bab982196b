"""The API's routes resolve the same through the per-segment index as through Django's
own one-by-one walk over every pattern (``orion_project.api.routers.SegmentIndexedResolver``)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.urls import URLResolver, get_resolver
from django.urls.exceptions import Resolver404

from orion_project.api.routers import SegmentIndexedResolver

FILLERS = [str(uuid.UUID(int=7)), "x", "filter", "count", "heartbeat", "name", "a.b", "latest"]
ODD_PATHS = ["", "/", "flow_runs", "flow_runs/", "Flow_runs/x", "flows/x/", "unknown/x", "health/", "health/x", "v2"]


def api_resolver() -> SegmentIndexedResolver:
    found = [p for p in get_resolver().url_patterns if isinstance(p, SegmentIndexedResolver)]
    assert len(found) == 1, "/api/ is served by the indexed resolver"
    return found[0]


def sample_paths(resolver: URLResolver) -> set[str]:
    """Paths each pattern matches (its groups filled with ids and route words), and
    their neighbours with a segment more or less."""
    paths = set(ODD_PATHS)
    for pattern in resolver.url_patterns:
        text = str(pattern.pattern).removeprefix("^").removesuffix("$")
        text = re.sub(r"<(?:\w+:)?\w+>", "{}", text)
        text = re.sub(r"\(\?P<\w+>(?:[^()]|\([^()]*\))*\)", "{}", text)
        for filler in FILLERS:
            path = text.replace("{}", filler)
            paths.update({path, f"{path}/", f"{path}/{filler}", path.rpartition("/")[0]})
    return paths


def outcome(resolver: URLResolver, path: str) -> Any:
    try:
        match = resolver.resolve(path)
    except Resolver404:
        return "404"
    return match.func, match.url_name, match.kwargs, match.route


def test_every_api_path_resolves_as_the_full_walk_does() -> None:
    indexed = api_resolver()
    full = URLResolver(indexed.pattern, indexed.urlconf_name)
    paths = sample_paths(full)
    assert len(paths) > 500
    differing = [p for p in sorted(paths) if outcome(indexed, f"api/{p}") != outcome(full, f"api/{p}")]
    assert differing == []
    assert sum(outcome(full, f"api/{p}") != "404" for p in paths) > 200, "the sample reaches the routes"


@pytest.mark.parametrize("path", ["api/flow_runs/count", "api/health", "api/work_pools/p/workers/filter"])
def test_a_path_tries_only_its_segments_patterns(path: str) -> None:
    by_segment, rest = api_resolver()._by_segment
    segment = path.split("/")[1]
    assert 0 < len(by_segment[segment].url_patterns) < 20
    assert rest.url_patterns == [p for p in rest.url_patterns if p in by_segment[segment].url_patterns]
