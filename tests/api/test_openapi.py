"""The generated OpenAPI document: paths, operation ids, nested filter schemas, JSON bodies,
UUID ids and the bearer scheme when API keys are on."""

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


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def test_request_bodies_are_json(schema: dict[str, Any]) -> None:
    bodies = [(path, op["requestBody"]) for path, _, op in _operations(schema) if "requestBody" in op]
    assert len(bodies) > 50
    for path, body in bodies:
        assert list(body["content"]) == ["application/json"], path


def test_path_ids_are_uuids(schema: dict[str, Any]) -> None:
    ids = [
        (path, parameter)
        for path, _, op in _operations(schema)
        for parameter in op.get("parameters", [])
        if parameter["in"] == "path" and (parameter["name"] == "id" or parameter["name"].endswith("_id"))
    ]
    assert len(ids) > 50
    for path, parameter in ids:
        # The artifact's key and an automation's resource (``prefect.deployment.<id>``): not UUIDs.
        if path == "/api/artifacts/{id}/latest" or parameter["name"] == "resource_id":
            assert parameter["schema"] == {"type": "string"}, path
        else:
            assert parameter["schema"] == {"type": "string", "format": "uuid"}, path
    flow_run = schema["components"]["schemas"]["FlowRun"]["properties"]
    assert flow_run["flow_id"]["format"] == flow_run["id"]["format"] == "uuid"


def test_no_security_scheme_without_keys(schema: dict[str, Any]) -> None:
    assert "securitySchemes" not in schema.get("components", {})
    assert "security" not in schema


def test_the_bearer_scheme_is_declared_when_keys_are_on(client: Client, settings: Any) -> None:
    settings.ORION_AUTH = "api-key"
    response = client.get("/api/openapi.json")  # an open path: no key needed to read the contract
    assert response.status_code == 200
    schema = response.json()
    (scheme,) = schema["components"]["securitySchemes"].values()
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert schema["security"] == [{name: []} for name in schema["components"]["securitySchemes"]]
    operations = {(path, method): op for path, method, op in _operations(schema)}
    assert operations[("/api/health", "get")]["security"] == []
    assert "security" not in operations[("/api/flows/filter", "post")]  # the document-wide rule applies
