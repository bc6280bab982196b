"""``/ui/schemas/validate`` and ``/collections/views/{view}`` (2.20)."""

from __future__ import annotations

from tests.helpers import ApiClient

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def test_schema_validation_nests_errors_at_their_property(api: ApiClient) -> None:
    answer = api.post("/ui/schemas/validate", {"schema": SCHEMA, "values": {"a": "x"}}).json()
    assert answer == {"errors": [{"property": "a", "errors": ["'x' is not of type 'integer'"]}], "valid": False}
    assert api.post("/ui/schemas/validate", {"schema": SCHEMA, "values": {"a": 1}}).json() == {
        "errors": [],
        "valid": True,
    }
    missing = api.post("/ui/schemas/validate", {"schema": SCHEMA, "values": {}}).json()
    assert missing["errors"] == [{"property": "a", "errors": ["'a' is a required property"]}]
    listed = {"type": "object", "properties": {"l": {"type": "array", "items": {"type": "string"}}}}
    nested = api.post("/ui/schemas/validate", {"schema": listed, "values": {"l": ["ok", 3]}}).json()
    assert nested["errors"] == [{"property": "l", "errors": [{"index": 1, "errors": ["3 is not of type 'string'"]}]}]


def test_schema_validation_body_and_bad_schemas(api: ApiClient) -> None:
    response = api.post("/ui/schemas/validate", {})
    assert response.json()["exception_detail"] == [
        {"loc": ["body", "schema"], "msg": "field required", "type": "value_error.missing"},
        {"loc": ["body", "values"], "msg": "field required", "type": "value_error.missing"},
    ]
    bad = api.post("/ui/schemas/validate", {"schema": {"type": 5}, "values": {}})
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("Invalid schema: ")


def test_collection_views_offline(api: ApiClient) -> None:
    workers = api.get("/collections/views/aggregate-worker-metadata").json()
    process = workers["prefect"]["process"]
    assert process["type"] == "process"
    assert set(process["default_base_job_configuration"]["job_configuration"]) >= {"command", "env", "working_dir"}
    assert api.get("/collections/views/nope").json() == {"detail": "View nope not found in registry"}
    assert api.get("/collections/views/demo-flows").status_code == 404
