"""The generated OpenAPI document: paths, operation ids, nested filter schemas."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/openapi.json", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_flow_paths_match_the_reference_slashes(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    for path in [
        "/api/flows/",
        "/api/flows/{id}",
        "/api/flows/filter",
        "/api/flows/count",
        "/api/flows/name/{name}",
        "/api/health",
        "/api/hello",
        "/api/admin/version",
    ]:
        assert path in paths, path
    assert set(paths["/api/flows/"]) >= {"get", "post"}
    assert set(paths["/api/flows/{id}"]) >= {"get", "patch", "delete"}


def test_every_operation_has_an_explicit_id_and_description(schema: dict[str, Any]) -> None:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert operation.get("operationId"), (path, method)
            assert operation.get("description"), (path, method)


def test_filter_bodies_are_nested_schemas(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    body_ref = schema["paths"]["/api/flows/filter"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ]
    body = components[body_ref.rsplit("/", 1)[-1]]
    assert set(body["properties"]) >= {"flows", "flow_runs", "task_runs", "deployments", "sort", "limit", "offset"}
    assert set(components["FlowFilter"]["properties"]) >= {"id", "name", "tags", "operator"}
    assert set(components["FlowFilterName"]["properties"]) == {"any_", "like_"}
    assert set(components["FlowRunFilterState"]["properties"]) == {"type", "name", "operator"}


def test_count_answers_an_integer(schema: dict[str, Any]) -> None:
    response = schema["paths"]["/api/flows/count"]["post"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"]["type"] == "integer"
