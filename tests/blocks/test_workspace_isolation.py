"""Workspaces (#21) for the configuration store and the run-side records kept beside it:
block documents (secrets), variables, artifacts, flow-run input and global concurrency
limits are each workspace's own; block types and schemas are one shared catalogue.

Workspace A's records are asked for through workspace B's URL: every answer is the one
for an unknown record (same status, same body), lists and counts leave them out, writes
leave them unchanged, and the same names live side by side.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from blocks_app.models import BlockDocument, Variable
from orion_project.models import Workspace
from runs_app.models import FlowRun, GlobalConcurrencyLimit
from tests.factories import FlowFactory
from tests.helpers import ApiClient

SECRET_FIELDS = {
    "title": "Creds",
    "type": "object",
    "properties": {"user": {"type": "string"}, "password": {"type": "string", "format": "password"}},
    "secret_fields": ["password"],
}
SECRET = "a-team-password"


class Door:
    """The API of one workspace: ``/api/workspaces/<slug>/...``."""

    def __init__(self, api: ApiClient, slug: str) -> None:
        self.api = api
        self.prefix = f"/workspaces/{slug}"

    def get(self, path: str) -> Any:
        return self.api.get(f"{self.prefix}{path}")

    def post(self, path: str, body: Any = None) -> Any:
        return self.api.post(f"{self.prefix}{path}", body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.api.patch(f"{self.prefix}{path}", body)

    def delete(self, path: str) -> Any:
        return self.api.delete(f"{self.prefix}{path}")

    def created(self, path: str, body: Any) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 201, response.content
        return response.json()  # type: ignore[no-any-return]


def workspace(slug: str) -> Workspace:
    return Workspace.objects.create(slug=slug)


def run_in(slug: str) -> FlowRun:
    """A flow run of the workspace ``slug`` (written directly: runs are not this module's subject)."""
    workspace_id = Workspace.objects.get(slug=slug).pk
    return FlowRun.objects.create(flow=FlowFactory(workspace_id=workspace_id), workspace_id=workspace_id, name="r")


@pytest.fixture
def doors(api: ApiClient) -> tuple[Door, Door]:
    workspace("a")
    workspace("b")
    return Door(api, "a"), Door(api, "b")


def assert_like_unknown(door: Door, method: str, path: str, known_id: str, body: Any = None) -> None:
    """``path`` with another workspace's id answers exactly as with an unknown id."""
    send = getattr(door, method)
    args = () if body is None else (body,)
    known = send(path.format(id=known_id), *args)
    unknown = send(path.format(id=uuid.uuid4()), *args)
    assert known.status_code == 404, (method, path, known.content)
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)


def assert_item_routes_like_unknown(door: Door, item_path: str, known_id: str, changes: dict[str, Any]) -> None:
    """``GET``, ``PATCH`` (with ``changes``) and ``DELETE`` of ``item_path`` answer for
    another workspace's id as for an unknown one."""
    for method, body in (("get", None), ("patch", changes), ("delete", None)):
        assert_like_unknown(door, method, item_path, known_id, body)


def catalogue(door: Door, slug: str = "team-creds") -> tuple[dict[str, Any], dict[str, Any]]:
    """A block type and a schema with a secret field (shared: either door may register)."""
    block_type = door.created("/block_types/", {"name": slug.title(), "slug": slug})
    response = door.post("/block_schemas/", {"block_type_id": block_type["id"], "fields": SECRET_FIELDS})
    assert response.status_code in (200, 201), response.content
    return block_type, response.json()


def document(door: Door, block_type: dict[str, Any], schema: dict[str, Any], name: str, **data: Any) -> dict[str, Any]:
    body = {"name": name, "data": data, "block_type_id": block_type["id"], "block_schema_id": schema["id"]}
    return door.created("/block_documents/", body)


def test_a_block_document_with_a_secret_is_invisible_and_unchangeable_from_another_workspace(
    doors: tuple[Door, Door],
) -> None:
    a, b = doors
    block_type, schema = catalogue(a)
    secret = document(a, block_type, schema, "creds", user="alice", password=SECRET)
    document(a, block_type, schema, "only-in-a", user="alice", password=SECRET)
    path = "/block_documents/{id}"
    for method, route, body in [
        ("get", path, None),
        ("get", path + "?include_secrets=true", None),
        ("patch", path, {"data": {"password": "stolen"}, "merge_existing_data": False}),
        ("delete", path, None),
    ]:
        assert_like_unknown(b, method, route, secret["id"], body)
    slug_path = f"/block_types/slug/{block_type['slug']}/block_documents"
    assert b.get(slug_path).json() == []
    assert b.get(f"{slug_path}/name/only-in-a?include_secrets=true").status_code == 404
    assert b.post("/block_documents/filter", {"include_secrets": True}).json() == []
    assert b.post("/block_documents/count", {}).json() == 0

    # The same name in B is B's own document, and B's by-name read is B's data.
    mine = document(b, block_type, schema, "creds", user="bob", password="b-password")
    assert mine["id"] != secret["id"]
    by_name = b.get(f"{slug_path}/name/creds?include_secrets=true").json()
    assert (by_name["id"], by_name["data"]) == (mine["id"], {"user": "bob", "password": "b-password"})
    assert [row["id"] for row in b.post("/block_documents/filter", {}).json()] == [mine["id"]]
    assert b.post("/block_documents/count", {}).json() == 1
    assert a.post("/block_documents/count", {}).json() == 2

    stored = a.get(f"/block_documents/{secret['id']}?include_secrets=true").json()
    assert stored["data"] == {"user": "alice", "password": SECRET}
    assert a.get(f"/block_documents/{secret['id']}").json()["data"]["password"] == "*" * 8
    assert a.get(f"{slug_path}/name/creds").json()["id"] == secret["id"]


def test_block_document_references_resolve_only_within_the_workspace(doors: tuple[Door, Door]) -> None:
    a, b = doors
    block_type, schema = catalogue(a)
    in_a = document(a, block_type, schema, "inner", password=SECRET)
    in_b = document(b, block_type, schema, "outer")

    def referring(door: Door, target: Any) -> Any:
        body = {
            "name": f"ref-{uuid.uuid4().hex[:8]}",
            "data": {"inner": {"$ref": {"block_document_id": str(target)}}},
            "block_type_id": block_type["id"],
            "block_schema_id": schema["id"],
        }
        return door.post("/block_documents/", body)

    assert referring(a, in_a["id"]).status_code == 201
    foreign, unknown = referring(b, in_a["id"]), referring(b, uuid.uuid4())
    assert foreign.status_code == 409
    assert foreign.json() == unknown.json()
    patch = {"data": {"inner": {"$ref": {"block_document_id": in_a["id"]}}}}
    assert b.patch(f"/block_documents/{in_b['id']}", patch).status_code == 409
    assert BlockDocument.objects.get(pk=in_b["id"]).data == {}


def test_block_types_and_schemas_are_shared_and_a_delete_never_reaches_another_workspace(
    doors: tuple[Door, Door],
) -> None:
    a, b = doors
    block_type, schema = catalogue(a)
    # One catalogue: B sees the type A registered, and registering the same schema is idempotent.
    assert b.get(f"/block_types/slug/{block_type['slug']}").json()["id"] == block_type["id"]
    again = b.post("/block_schemas/", {"block_type_id": block_type["id"], "fields": SECRET_FIELDS})
    assert (again.status_code, again.json()["id"]) == (200, schema["id"])
    assert b.patch(f"/block_types/{block_type['id']}", {"description": "shared"}).status_code == 204
    in_a = document(a, block_type, schema, "creds", password=SECRET)

    # B has no documents of it, A has: B may delete neither the schema nor the type.
    for path in (f"/block_schemas/{schema['id']}", f"/block_types/{block_type['id']}"):
        refused = b.delete(path)
        assert refused.status_code == 409, refused.content
        assert "another workspace" in refused.json()["detail"]
    assert BlockDocument.objects.filter(pk=in_a["id"]).exists()
    # Nor may A while B holds a document of it.
    in_b = document(b, block_type, schema, "creds")
    assert a.delete(f"/block_types/{block_type['id']}").status_code == 409
    assert BlockDocument.objects.filter(pk__in=[in_a["id"], in_b["id"]]).count() == 2

    # Once only A's documents remain, A's delete takes them with the type (the reference's cascade).
    assert b.delete(f"/block_documents/{in_b['id']}").status_code == 204
    assert a.delete(f"/block_types/{block_type['id']}").status_code == 204
    assert not BlockDocument.objects.filter(pk=in_a["id"]).exists()
    assert b.get(f"/block_types/{block_type['id']}").status_code == 404


def test_variables_are_per_workspace(doors: tuple[Door, Door]) -> None:
    a, b = doors
    mine = a.created("/variables/", {"name": "x", "value": "from-a", "tags": ["t"]})
    assert_item_routes_like_unknown(b, "/variables/{id}", mine["id"], {"value": "changed"})
    assert b.get("/variables/name/x").status_code == 404
    assert b.patch("/variables/name/x", {"value": "changed"}).status_code == 404
    assert b.delete("/variables/name/x").status_code == 404
    assert b.post("/variables/filter", {}).json() == []
    assert b.post("/variables/count", {}).json() == 0

    theirs = b.created("/variables/", {"name": "x", "value": "from-b"})
    assert theirs["id"] != mine["id"]
    assert b.get("/variables/name/x").json()["value"] == "from-b"
    assert b.delete("/variables/name/x").status_code == 204
    assert Variable.objects.get(pk=mine["id"]).value == "from-a"
    assert a.get("/variables/name/x").json()["value"] == "from-a"


def test_artifacts_and_their_keys_are_per_workspace(doors: tuple[Door, Door]) -> None:
    a, b = doors
    run_in_a = run_in("a")
    mine = a.created("/artifacts/", {"key": "report", "data": "a-1", "flow_run_id": str(run_in_a.pk)})
    assert_item_routes_like_unknown(b, "/artifacts/{id}", mine["id"], {"data": "changed"})
    assert b.get("/artifacts/report/latest").status_code == 404
    for path in ("/artifacts/filter", "/artifacts/latest/filter"):
        assert b.post(path, {}).json() == []
    for path in ("/artifacts/count", "/artifacts/latest/count"):
        assert b.post(path, {}).json() == 0

    # The same key in B is B's own collection; B's versions leave A's latest alone.
    theirs = b.created("/artifacts/", {"key": "report", "data": "b-1", "flow_run_id": str(run_in_a.pk)})
    assert b.get("/artifacts/report/latest").json()["data"] == "b-1"
    assert a.get("/artifacts/report/latest").json()["data"] == "a-1"
    assert b.delete(f"/artifacts/{theirs['id']}").status_code == 204
    assert b.get("/artifacts/report/latest").status_code == 404
    latest = a.get("/artifacts/report/latest").json()
    assert (latest["data"], a.get(f"/artifacts/{mine['id']}").json()["data"]) == ("a-1", "a-1")

    # A run filter reads B's runs only: A's run is no run of B's, even named by B's artifact.
    b.created("/artifacts/", {"key": "other", "flow_run_id": str(run_in_a.pk)})
    by_run = {"flow_runs": {"id": {"any_": [str(run_in_a.pk)]}}}
    assert b.post("/artifacts/filter", by_run).json() == []
    assert [row["id"] for row in a.post("/artifacts/filter", by_run).json()] == [mine["id"]]


def test_run_input_needs_a_run_of_the_workspace(doors: tuple[Door, Door]) -> None:
    a, b = doors
    run = run_in("a")
    assert a.post(f"/flow_runs/{run.pk}/input", {"key": "answer", "value": '"42"'}).status_code == 201
    assert_like_unknown(b, "post", "/flow_runs/{id}/input", str(run.pk), {"key": "other", "value": "1"})
    assert_like_unknown(b, "get", "/flow_runs/{id}/input/answer", str(run.pk))
    assert_like_unknown(b, "delete", "/flow_runs/{id}/input/answer", str(run.pk))
    assert b.post(f"/flow_runs/{run.pk}/input/filter", {"prefix": "a"}).json() == []
    read = a.get(f"/flow_runs/{run.pk}/input/answer")
    assert (read.status_code, read.content) == (200, b'"42"')
    assert [row["key"] for row in a.post(f"/flow_runs/{run.pk}/input/filter", {"prefix": "a"}).json()] == ["answer"]


def test_a_global_limit_of_one_workspace_does_not_limit_another(doors: tuple[Door, Door]) -> None:
    a, b = doors
    mine = a.created("/v2/concurrency_limits/", {"name": "x", "limit": 1})
    take = {"names": ["x"], "slots": 1}
    assert a.post("/v2/concurrency_limits/increment", take).status_code == 200
    assert a.post("/v2/concurrency_limits/increment", take).status_code == 423

    assert_item_routes_like_unknown(b, "/v2/concurrency_limits/{id}", mine["id"], {"limit": 100})
    assert b.get("/v2/concurrency_limits/x").status_code == 404
    assert b.post("/v2/concurrency_limits/filter", {}).json() == []

    # B's "x" is its own: B takes its slot while A's is held, and B's release is B's.
    theirs = b.created("/v2/concurrency_limits/", {"name": "x", "limit": 1})
    assert b.post("/v2/concurrency_limits/increment", take).json()[0]["id"] == theirs["id"]
    assert b.post("/v2/concurrency_limits/decrement", take).status_code == 200
    assert b.post("/v2/concurrency_limits/decrement", take).status_code == 200
    assert b.delete("/v2/concurrency_limits/x").status_code == 204
    # An unknown name is created inactive in the asking workspace only.
    assert b.post("/v2/concurrency_limits/increment", {"names": ["y"], "slots": 1}).status_code == 200
    stored = GlobalConcurrencyLimit.objects.get(pk=mine["id"])
    assert (stored.active_slots, stored.limit) == (1, 1)
    assert not GlobalConcurrencyLimit.objects.filter(name="y", workspace__slug="a").exists()
    assert [row["name"] for row in a.post("/v2/concurrency_limits/filter", {}).json()] == ["x"]
