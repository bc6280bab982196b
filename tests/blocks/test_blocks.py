"""Block types, schemas, documents and capabilities through the API (reference §A.1, §G.10)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from blocks_app.checksums import schema_checksum
from blocks_app.models import BlockDocument, BlockType
from tests.helpers import ApiClient

LOCAL_FILE_SYSTEM_FIELDS = {
    "title": "LocalFileSystem",
    "description": "Store data as a file on a local file system.",
    "type": "object",
    "properties": {"basepath": {"title": "Basepath", "description": "Default local path.", "type": "string"}},
    "block_type_slug": "local-file-system",
    "secret_fields": [],
    "block_schema_references": {},
}
SECRET_FIELDS = {
    "title": "Creds",
    "type": "object",
    "properties": {"user": {"type": "string"}, "password": {"type": "string", "format": "password"}},
    "secret_fields": ["password", "nested.*"],
}


def make_type(api: ApiClient, slug: str = "my-storage", name: str = "My Storage") -> dict[str, Any]:
    response = api.post("/block_types/", {"name": name, "slug": slug, "logo_url": "https://example.com/logo.png"})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def make_schema(
    api: ApiClient, block_type: dict[str, Any], fields: dict[str, Any], version: str = "2.7.12"
) -> dict[str, Any]:
    response = api.post(
        "/block_schemas/",
        {"block_type_id": block_type["id"], "fields": fields, "capabilities": ["read-path"], "version": version},
    )
    assert response.status_code in (200, 201), response.content
    return response.json()  # type: ignore[no-any-return]


def test_checksum_is_what_the_2_7_client_computes() -> None:
    # LocalFileSystem._calculate_schema_checksum() of prefect 2.7.12, recorded
    fields = {
        "title": "LocalFileSystem",
        "description": "Store data as a file on a local file system.",
        "type": "object",
        "properties": {
            "basepath": {
                "title": "Basepath",
                "description": "Default local path for this block to write to.",
                "type": "string",
            }
        },
        "block_type_slug": "local-file-system",
        "secret_fields": [],
        "block_schema_references": {},
    }
    assert schema_checksum(fields).startswith("sha256:")
    assert schema_checksum(fields) == schema_checksum({**fields, "secret_fields": ["x"]})
    assert schema_checksum(fields) != schema_checksum({**fields, "title": "Other"})


def test_the_2_7_client_result_storage_flow(api: ApiClient) -> None:
    """What every 2.7 flow run does before it starts (CLIENT-TRACE "Blocks")."""
    block_type = api.get("/block_types/slug/local-file-system").json()  # seeded
    assert (block_type["name"], block_type["is_protected"]) == ("Local File System", True)
    assert api.patch(f"/block_types/{block_type['id']}", {"description": "files"}).status_code == 204
    checksum = schema_checksum(LOCAL_FILE_SYSTEM_FIELDS)
    assert api.get(f"/block_schemas/checksum/{checksum}?version=2.7.12").status_code == 404
    schema = make_schema(api, block_type, LOCAL_FILE_SYSTEM_FIELDS)
    assert schema["checksum"] == checksum
    found = api.get(f"/block_schemas/checksum/{checksum}?version=2.7.12")
    assert (found.status_code, found.json()["id"]) == (200, schema["id"])
    response = api.post(
        "/block_documents/",
        {
            "name": None,
            "is_anonymous": True,
            "data": {"basepath": "/tmp"},
            "block_schema_id": schema["id"],
            "block_type_id": block_type["id"],
        },
    )
    assert response.status_code == 201
    document = response.json()
    assert document["name"].startswith("anonymous-")
    uuid.UUID(document["name"].removeprefix("anonymous-"))
    assert (document["block_type"]["slug"], document["block_schema"]["checksum"]) == ("local-file-system", checksum)
    assert document["block_document_references"] == {}


def test_system_block_types_are_installed_and_protected(api: ApiClient) -> None:
    slugs = {t["slug"] for t in api.post("/block_types/filter", {}).json()}
    assert {"local-file-system", "process", "secret", "json", "string"} <= slugs
    assert api.post("/block_types/install_system_block_types").json() is None
    assert len(api.post("/block_types/filter", {}).json()) == len(slugs)  # idempotent
    process = api.get("/block_types/slug/process").json()
    assert api.delete(f"/block_types/{process['id']}").status_code == 403


def test_block_type_rules(api: ApiClient) -> None:
    block_type = make_type(api)
    assert api.post("/block_types/", {"name": "My Storage", "slug": "my-storage"}).status_code == 409
    reserved = api.post("/block_types/", {"name": "Prefect Thing", "slug": "prefect-thing"})
    assert reserved.status_code == 403
    bad_slug = api.post("/block_types/", {"name": "Bad", "slug": "Not A Slug"})
    assert bad_slug.status_code == 422
    assert bad_slug.json()["exception_detail"][0]["loc"] == ["body", "slug"]
    assert api.post("/block_types/", {"name": "x", "slug": "x", "logo_url": "not a url"}).status_code == 422
    assert api.get(f"/block_types/{block_type['id']}").json()["name"] == "My Storage"
    assert api.get(f"/block_types/{uuid.uuid4()}").json() == {"detail": "Block type not found"}
    BlockType.objects.filter(pk=block_type["id"]).update(is_protected=True)
    assert api.delete(f"/block_types/{block_type['id']}").status_code == 403
    other = make_type(api, "other", "Other")
    assert api.delete(f"/block_types/{other['id']}").status_code == 204
    assert api.delete(f"/block_types/{other['id']}").status_code == 404


def test_block_type_filter(api: ApiClient, django_assert_num_queries: Any) -> None:
    files = make_type(api)
    make_type(api, "my-vault", "My Vault")
    make_schema(api, files, LOCAL_FILE_SYSTEM_FIELDS)
    mine = {"block_types": {"name": {"like_": "my "}}}
    with django_assert_num_queries(1):
        names = [t["name"] for t in api.post("/block_types/filter", mine).json()]
    assert names == ["My Storage", "My Vault"]
    by_slug = {"block_types": {"slug": {"any_": ["my-vault"]}}}
    assert [t["slug"] for t in api.post("/block_types/filter", by_slug).json()] == ["my-vault"]
    with_reads = {"block_schemas": {"block_capabilities": {"all_": ["read-path"]}}}
    assert [t["slug"] for t in api.post("/block_types/filter", with_reads).json()] == ["my-storage"]
    assert api.post("/block_types/filter", {"block_types": {"operator": "and_"}}).status_code == 422


def test_block_schema_routes(api: ApiClient) -> None:
    block_type = make_type(api)
    first = api.post(
        "/block_schemas/", {"block_type_id": block_type["id"], "fields": LOCAL_FILE_SYSTEM_FIELDS, "version": "1"}
    )
    assert first.status_code == 201
    again = api.post(
        "/block_schemas/", {"block_type_id": block_type["id"], "fields": LOCAL_FILE_SYSTEM_FIELDS, "version": "1"}
    )
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert api.post("/block_schemas/", {"block_type_id": str(uuid.uuid4()), "fields": {}}).status_code == 404
    assert api.get(f"/block_schemas/{first.json()['id']}").json()["block_type"]["id"] == block_type["id"]
    newest = make_schema(api, block_type, {**LOCAL_FILE_SYSTEM_FIELDS, "title": "v2"}, version="2")
    assert [s["version"] for s in api.post("/block_schemas/filter", {}).json()] == ["2", "1"]
    by_version = {"block_schemas": {"version": {"any_": ["1"]}}}
    assert [s["version"] for s in api.post("/block_schemas/filter", by_version).json()] == ["1"]
    assert api.get("/block_capabilities/").json() == ["read-path"]
    assert api.delete(f"/block_schemas/{newest['id']}").status_code == 204


@pytest.fixture
def secret_schema(api: ApiClient) -> dict[str, Any]:
    block_type = make_type(api, "creds", "Creds")
    return make_schema(api, block_type, SECRET_FIELDS)


def make_document(api: ApiClient, schema: dict[str, Any], name: str, **data: Any) -> dict[str, Any]:
    body = {"name": name, "data": data, "block_schema_id": schema["id"], "block_type_id": schema["block_type_id"]}
    response = api.post("/block_documents/", body)
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def test_secrets_are_hidden_unless_asked_for(api: ApiClient, secret_schema: dict[str, Any]) -> None:
    document = make_document(api, secret_schema, "prod", user="me", password="hunter2", nested={"a": "1", "b": "2"})
    assert document["data"] == {
        "user": "me",
        "password": "**********",
        "nested": {"a": "**********", "b": "**********"},
    }
    shown = api.get(f"/block_documents/{document['id']}?include_secrets=true").json()
    assert shown["data"]["password"] == "hunter2"
    by_name = api.get("/block_types/slug/creds/block_documents/name/prod").json()
    assert by_name["data"]["password"] == "**********"
    listed = api.post("/block_documents/filter", {"include_secrets": True}).json()
    assert listed[0]["data"]["password"] == "hunter2"
    assert BlockDocument.objects.get(pk=document["id"]).data["password"] == "hunter2"


def test_block_document_rules(api: ApiClient, secret_schema: dict[str, Any]) -> None:
    document = make_document(api, secret_schema, "prod", user="me")
    duplicate = api.post(
        "/block_documents/",
        {
            "name": "prod",
            "data": {},
            "block_schema_id": secret_schema["id"],
            "block_type_id": secret_schema["block_type_id"],
        },
    )
    assert duplicate.status_code == 409
    unnamed = api.post(
        "/block_documents/",
        {"data": {}, "block_schema_id": secret_schema["id"], "block_type_id": secret_schema["block_type_id"]},
    )
    assert unnamed.status_code == 422
    assert api.patch(f"/block_documents/{document['id']}", {"data": {"password": "x"}}).status_code == 204
    assert api.get(f"/block_documents/{document['id']}?include_secrets=true").json()["data"] == {
        "user": "me",
        "password": "x",
    }
    assert (
        api.patch(
            f"/block_documents/{document['id']}", {"data": {"user": "you"}, "merge_existing_data": False}
        ).status_code
        == 204
    )
    assert api.get(f"/block_documents/{document['id']}?include_secrets=true").json()["data"] == {"user": "you"}
    assert api.patch(f"/block_documents/{document['id']}", {"block_schema_id": str(uuid.uuid4())}).status_code == 400
    assert api.patch(f"/block_documents/{document['id']}", {"name": "renamed"}).status_code == 422
    assert api.get(f"/block_documents/{document['id']}?include_secrets=maybe").status_code == 422
    assert api.delete(f"/block_documents/{document['id']}").status_code == 204
    assert api.get(f"/block_documents/{document['id']}").json() == {"detail": "Block document not found"}


def test_block_document_filter_hides_anonymous_by_default(
    api: ApiClient, secret_schema: dict[str, Any], django_assert_num_queries: Any
) -> None:
    for name in ("b-doc", "a-doc"):
        make_document(api, secret_schema, name, user=name)
    api.post(
        "/block_documents/",
        {
            "is_anonymous": True,
            "data": {},
            "block_schema_id": secret_schema["id"],
            "block_type_id": secret_schema["block_type_id"],
        },
    )
    with django_assert_num_queries(1):  # documents joined with their schema and type
        names = [d["name"] for d in api.post("/block_documents/filter", {}).json()]
    assert names == ["a-doc", "b-doc"]
    everything = api.post("/block_documents/filter", {"block_documents": {"is_anonymous": None}}).json()
    assert len(everything) == 3
    only_anonymous = {"block_documents": {"is_anonymous": {"eq_": True}}}
    assert api.post("/block_documents/count", only_anonymous).json() == 1
    by_type = {"block_types": {"slug": {"any_": ["creds"]}}, "block_documents": {"name": {"any_": ["a-doc"]}}}
    assert [d["name"] for d in api.post("/block_documents/filter", by_type).json()] == ["a-doc"]
    listed = api.get("/block_types/slug/creds/block_documents").json()
    assert [d["name"] for d in listed] == ["a-doc", "b-doc"]
