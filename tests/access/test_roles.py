"""Roles → routes (access_app.roles): every route of the URL configuration has a role, and
each role is allowed and refused where it should be, through the API."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern

from access_app.models import Role
from access_app.roles import RUNNER_WRITES, defined_role, required_role
from flows_app.models import Flow
from orion_project.api import urls as api_urls
from tests.access.conftest import bearer
from tests.factories import DeploymentFactory, FlowFactory, FlowRunFactory
from tests.helpers import ApiClient

SAMPLE_ID = "0b8c9b1e-5f7a-4c55-9d44-0a4f4e6b8a11"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _sample(regex: str) -> str:
    """A concrete path for a URL pattern: every named group becomes a sample id."""
    out, index = [], 0
    while index < len(regex):
        if regex.startswith("(?P<", index):
            depth, index = 0, index
            while True:
                depth += {"(": 1, ")": -1}.get(regex[index], 0)
                index += 1
                if depth == 0:
                    break
            out.append(SAMPLE_ID)
            continue
        out.append(regex[index])
        index += 1
    return "".join(out).lstrip("^").rstrip("$").replace("\\", "")


def _methods(pattern: URLPattern) -> list[str]:
    callback: Any = pattern.callback
    if getattr(callback, "actions", None):
        return [method.upper() for method in callback.actions]
    cls = getattr(callback, "cls", None)
    if cls is not None:
        return [method.upper() for method in HTTP_METHODS if hasattr(cls, method)]
    return ["GET"]


def _routes() -> Iterator[tuple[str, str, str]]:
    """(method, concrete /api path, pattern) of every route of the API's URL configuration."""
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        for method in _methods(pattern):
            yield method, "/api/" + _sample(str(pattern.pattern)), str(pattern.pattern)


def test_the_router_has_the_routes_this_test_enumerates() -> None:
    routes = list(_routes())
    assert len(routes) > 150
    assert ("POST", f"/api/flow_runs/{SAMPLE_ID}/set_state", "^flow_runs/(?P<id>[^/]+)/set_state$") in routes


def test_every_route_has_a_defined_role() -> None:
    """A new route must be named in access_app.roles: none falls through to a role silently."""
    missing = sorted(
        f"{method} {pattern}"
        for method, path, pattern in _routes()
        if "(?P<rest>" not in pattern and defined_role(method, path) is None
    )
    assert missing == []


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
@pytest.mark.parametrize("rest", ["get_scheduled_flow_runs", "workers/heartbeat", "queues/filter", "queues/q"])
def test_experimental_work_pool_routes_need_what_their_twins_need(method: str, rest: str) -> None:
    twin = f"/api/work_pools/p/{rest}"
    assert required_role(method, f"/api/experimental/work_pools/p/{rest}") == required_role(method, twin)


def test_the_runner_list_names_only_routes_that_exist() -> None:
    declared = {(method, path) for method, path, _ in _routes()}
    for method, template in RUNNER_WRITES:
        assert (method, "/api" + template.replace("{id}", SAMPLE_ID).replace("{name}", SAMPLE_ID)) in declared


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("GET", "/api/flows/", Role.VIEWER),
        ("GET", f"/api/flow_runs/{SAMPLE_ID}/graph", Role.VIEWER),
        ("GET", f"/api/block_documents/{SAMPLE_ID}", Role.VIEWER),
        ("POST", "/api/flow_runs/filter", Role.VIEWER),
        ("POST", "/api/task_runs/count", Role.VIEWER),
        ("POST", "/api/ui/flow_runs/history", Role.VIEWER),
        ("POST", "/api/ui/task_runs/dashboard/counts", Role.VIEWER),
        ("POST", "/api/flow_runs/lateness", Role.VIEWER),
        ("POST", "/api/work_pools/p/queues/filter", Role.VIEWER),
        ("POST", f"/api/flow_runs/{SAMPLE_ID}/input/filter", Role.VIEWER),
        ("POST", "/api/ui/schemas/validate", Role.VIEWER),
        ("POST", "/api/flows/", Role.RUNNER),
        ("POST", "/api/flow_runs/", Role.RUNNER),
        ("PATCH", f"/api/flow_runs/{SAMPLE_ID}", Role.RUNNER),
        ("POST", f"/api/task_runs/{SAMPLE_ID}/set_state", Role.RUNNER),
        ("POST", "/api/logs/", Role.RUNNER),
        ("POST", f"/api/work_queues/{SAMPLE_ID}/get_runs", Role.RUNNER),
        ("POST", "/api/work_pools/p/workers/heartbeat", Role.RUNNER),
        ("POST", "/api/work_pools/p/get_scheduled_flow_runs", Role.RUNNER),
        ("POST", "/api/v2/concurrency_limits/increment", Role.RUNNER),
        ("POST", f"/api/deployments/{SAMPLE_ID}/create_flow_run", Role.RUNNER),
        ("DELETE", f"/api/flows/{SAMPLE_ID}", Role.DEVELOPER),
        ("DELETE", f"/api/flow_runs/{SAMPLE_ID}", Role.DEVELOPER),
        ("PATCH", f"/api/deployments/{SAMPLE_ID}", Role.DEVELOPER),
        ("POST", "/api/deployments/", Role.DEVELOPER),
        ("POST", f"/api/deployments/{SAMPLE_ID}/set_schedule_inactive", Role.DEVELOPER),
        ("POST", "/api/work_pools/", Role.DEVELOPER),
        ("POST", "/api/work_queues/", Role.DEVELOPER),
        ("PATCH", "/api/work_pools/p", Role.DEVELOPER),
        ("POST", "/api/concurrency_limits/", Role.DEVELOPER),
        ("POST", "/api/v2/concurrency_limits/", Role.DEVELOPER),
        ("POST", "/api/variables/", Role.DEVELOPER),
        ("PATCH", "/api/variables/name/v", Role.DEVELOPER),
        ("DELETE", f"/api/flow_runs/{SAMPLE_ID}/input/k", Role.DEVELOPER),
        ("POST", "/api/flow_runs/bulk_delete", Role.DEVELOPER),
        ("POST", "/api/no/such/route", Role.DEVELOPER),
        ("GET", "/api/admin/settings", Role.ADMIN),
        ("POST", "/api/admin/database/clear", Role.ADMIN),
    ],
)
def test_the_least_role_of_representative_routes(method: str, path: str, role: Role) -> None:
    assert required_role(method, path) == role


def test_every_query_sent_by_post_is_a_viewer_read(api: ApiClient) -> None:
    """Every POST operation of the schema that only reads (its id says read/count/filter,
    history or lateness) needs viewer; the polls that record "last polled" need runner."""
    polls = {"read_work_queue_runs", "get_scheduled_flow_runs", "get_scheduled_flow_runs_for_deployments"}
    schema = api.client.get("/api/openapi.json", HTTP_ACCEPT="application/json").json()
    for path, operations in schema["paths"].items():
        operation = operations.get("post")
        if operation is None or path.startswith("/api/admin/"):
            continue
        concrete = re.sub(r"\{[^}]+\}", SAMPLE_ID, path)
        op = operation["operationId"]
        if op in polls:
            assert required_role("POST", concrete) == Role.RUNNER, path
        elif op.startswith(("read_", "count_", "filter_")) or "history" in op or "lateness" in op:
            assert required_role("POST", concrete) == Role.VIEWER, path


ROLES = [Role.VIEWER, Role.RUNNER, Role.DEVELOPER, Role.ADMIN]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_through_the_api(api: ApiClient, keyed: Any, make_key: Any, role: Role) -> None:
    key = bearer(make_key(role))
    flow = FlowFactory()
    rank = ROLES.index(role)
    # Reads: everyone.
    assert api.get("/flows/", **key).status_code == 200
    assert api.post("/flows/filter", {}, **key).status_code == 200
    # What a flow process sends: runner and up.
    logs = api.post("/logs/", [], **key)
    assert logs.status_code == (201 if rank >= 1 else 403)
    run = FlowRunFactory(flow=flow)
    patched = api.patch(f"/flow_runs/{run.id}", {"infrastructure_pid": "4242"}, **key)
    assert patched.status_code == (204 if rank >= 1 else 403)
    assert api.post(f"/work_queues/{uuid.uuid4()}/get_runs", {}, **key).status_code == (404 if rank >= 1 else 403)
    # Changing flows: developer and up.
    assert api.patch(f"/flows/{flow.id}", {"tags": ["t"]}, **key).status_code == (204 if rank >= 2 else 403)
    # Workspace administration: admin only.
    assert api.get("/admin/settings", **key).status_code == (200 if rank >= 3 else 403)


def test_a_runner_deletes_nothing_and_changes_no_deployment(api: ApiClient, keyed: Any, make_key: Any) -> None:
    key = bearer(make_key(Role.RUNNER))
    run = FlowRunFactory()
    deployment = DeploymentFactory(flow=run.flow)
    refused = [
        api.delete(f"/flow_runs/{run.id}", **key),
        api.delete(f"/flows/{run.flow_id}", **key),
        api.patch(f"/deployments/{deployment.id}", {"description": "x"}, **key),
        api.post(f"/deployments/{deployment.id}/set_schedule_inactive", **key),
        api.delete(f"/deployments/{deployment.id}", **key),
        api.post("/work_pools/", {"name": "p"}, **key),
        api.post("/concurrency_limits/", {"tag": "t", "concurrency_limit": 1}, **key),
        api.post("/variables/", {"name": "v", "value": "1"}, **key),
        api.post("/admin/database/clear", {"confirm": True}, **key),
    ]
    assert [response.status_code for response in refused] == [403] * len(refused)
    assert refused[0].json()["detail"] == (
        f"The API key 'key-0' has the runner role in the workspace 'default'; "
        f"DELETE /api/flow_runs/{run.id} needs developer."
    )
    assert Flow.objects.count() == 1
    deployment.refresh_from_db()
    assert deployment.description != "x"


@pytest.mark.parametrize("role", ROLES)
def test_secret_values_are_shown_to_runners_and_up_and_hidden_from_viewers(
    api: ApiClient, make_key: Any, keyed: Any, role: Role
) -> None:
    """A flow process (runner) loads its blocks with their secrets; a viewer reads the same
    documents, asked with ``include_secrets`` or not, with the secrets hidden."""
    admin = bearer(make_key(Role.ADMIN))
    block_type = api.post("/block_types/", {"name": "Creds", "slug": "creds"}, **admin).json()
    fields = {"properties": {"password": {"type": "string", "format": "password"}}, "secret_fields": ["password"]}
    schema = api.post(
        "/block_schemas/", {"block_type_id": block_type["id"], "fields": fields, "capabilities": []}, **admin
    ).json()
    body = {
        "name": "prod",
        "data": {"password": "hunter2"},
        "block_schema_id": schema["id"],
        "block_type_id": block_type["id"],
    }
    document = api.post("/block_documents/", body, **admin).json()
    key = bearer(make_key(role))
    expected = "hunter2" if role != Role.VIEWER else "********"
    answers = [
        api.get(f"/block_documents/{document['id']}?include_secrets=true", **key).json(),
        api.get("/block_types/slug/creds/block_documents/name/prod?include_secrets=true", **key).json(),
        api.post("/block_documents/filter", {"include_secrets": True}, **key).json()[0],
        api.get("/block_types/slug/creds/block_documents?include_secrets=true", **key).json()[0],
    ]
    assert [answer["data"]["password"] for answer in answers] == [expected] * 4
    # Not asked: hidden from everyone.
    assert api.get(f"/block_documents/{document['id']}", **key).json()["data"]["password"] == "********"
