"""The API's routes resolve the same through the per-segment index as through Django's
own one-by-one walk over every pattern (``orion_project.api.routers.SegmentIndexedResolver``)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
import pytest
from django.test import override_settings
from django.urls import URLResolver, clear_url_caches, get_resolver
from django.urls.exceptions import Resolver404

from orion_project import urls as orion_urls
from orion_project.api.routers import SegmentIndexedResolver
from tests.helpers import ApiClient, make_flow_run

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


# This module is also a URL conf: the project's routes with /api/ walked one pattern at a
# time, as Django does without the index, to compare whole answers with.
handler404 = orion_urls.handler404
handler500 = orion_urls.handler500
urlpatterns = [
    URLResolver(p.pattern, p.urlconf_name, p.default_kwargs, p.app_name, p.namespace)
    if isinstance(p, SegmentIndexedResolver)
    else p
    for p in orion_urls.urlpatterns
]


def answer(api: ApiClient, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, list[Any], bytes]:
    response = api.request(method, path, body, **headers)
    return response.status_code, sorted(response.headers.items()), response.content


def test_answers_are_byte_for_byte_those_of_the_full_walk(api: ApiClient) -> None:
    run = make_flow_run(api, "COMPLETED", tags=["etl"])
    requests: list[tuple[Any, ...]] = [
        ("get", f"/flow_runs/{run['id']}"),
        ("get", f"/flow_runs/{uuid.UUID(int=5)}"),
        ("get", "/flow_runs/not-an-id"),
        ("post", "/flow_runs/count", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}),
        ("post", "/flow_runs/count", {"flow_runs": {"state": {"type": {"any_": ["NOPE"]}}}}),
        ("post", "/flow_runs/filter", {"limit": 5}),
        ("get", "/flow_runs/count"),
        ("get", f"/flows/{run['flow_id']}"),
        ("get", "/health"),
        ("get", "/nothing/here"),
        ("get", "/workspaces/default/flow_runs/" + run["id"]),
        ("get", f"/flow_runs/{run['id']}", None, {"HTTP_X_PREFECT_API_VERSION": "0.7"}),
    ]
    indexed = [
        answer(api, method, path, *rest[:1], **(rest[1] if len(rest) > 1 else {})) for method, path, *rest in requests
    ]
    with override_settings(ROOT_URLCONF=__name__):
        clear_url_caches()
        try:
            walked = [
                answer(api, method, path, *rest[:1], **(rest[1] if len(rest) > 1 else {}))
                for method, path, *rest in requests
            ]
        finally:
            clear_url_caches()
    assert {status for status, _, _ in indexed} >= {200, 404, 405, 400}
    assert indexed == walked


def test_a_create_answers_with_the_same_status_and_headers(api: ApiClient) -> None:
    flow = make_flow_run(api)["flow_id"]
    body = {"flow_id": flow, "tags": ["etl"], "state": {"type": "PENDING"}}
    status, headers, content = answer(api, "post", "/flow_runs/", body)
    with override_settings(ROOT_URLCONF=__name__):
        clear_url_caches()
        try:
            status_walked, headers_walked, content_walked = answer(api, "post", "/flow_runs/", body)
        finally:
            clear_url_caches()
    # The bodies differ (a new id, name and times), and so may their lengths.
    drop_length = [(name, value) for name, value in headers if name != "Content-Length"]
    assert (status, drop_length) == (status_walked, [h for h in headers_walked if h[0] != "Content-Length"])
    assert status == 201 and orjson.loads(content).keys() == orjson.loads(content_walked).keys()
