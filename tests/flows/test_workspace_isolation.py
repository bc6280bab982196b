"""Workspaces keep flows_app's records apart: flows, deployments and their schedules, work
pools, queues and workers, saved searches and notification policies.

Each test creates a record in workspace ``a`` through ``/api/workspaces/a/...`` and then
shows, through ``/api/workspaces/b/...``, that it is invisible (a read by id or name
answers exactly what an unknown one does; filters, counts and lists leave it out) and
unchangeable (updates and deletes are that same 404, and ``a``'s row is unchanged), and
that ``b`` may reuse its names.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from blocks_app.models import BlockDocument, BlockSchema, BlockType
from flows_app.background.scheduler import schedule_deployments
from flows_app.models import (
    Deployment,
    DeploymentSchedule,
    Flow,
    FlowRunNotificationPolicy,
    SavedSearch,
    WorkPool,
    WorkQueue,
)
from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from runs_app.models import FlowRun
from tests.helpers import ApiClient, WorkspaceApi

pytestmark = pytest.mark.django_db

HOURLY = {"interval": 3600, "anchor_date": "2026-01-01T00:00:00+00:00"}
HOURLY_ROW = {"schedule": HOURLY, "active": True}
FILTER = {"object": "flow", "property": "name", "type": "string", "operation": "equals", "value": "etl"}
UNKNOWN = str(uuid.uuid4())


@pytest.fixture
def a(api: ApiClient) -> WorkspaceApi:
    Workspace.objects.create(slug="a")
    return WorkspaceApi(api.client, "a")


@pytest.fixture
def b(api: ApiClient) -> WorkspaceApi:
    Workspace.objects.create(slug="b")
    return WorkspaceApi(api.client, "b")


def created(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.content
    return response.json()  # type: ignore[no-any-return]


def answer(response: Any) -> tuple[int, Any]:
    return response.status_code, response.json() if response.content else None


def same_as_unknown(call: Callable[[str], Any], real: str, unknown: str = UNKNOWN, status: int = 404) -> None:
    """``call`` with another workspace's id or name answers exactly as with one that does
    not exist (some details name what was asked for: that part is compared as named)."""
    theirs, none = call(real), call(unknown)
    assert theirs.status_code == none.status_code == status, theirs.content
    assert theirs.content.decode() == none.content.decode().replace(unknown, real)


def make_deployment(ws: WorkspaceApi, flow_name: str = "etl", **fields: Any) -> dict[str, Any]:
    flow = created(ws.post("/flows/", {"name": flow_name}))
    return created(ws.post("/deployments/", {"name": "nightly", "flow_id": flow["id"], **fields}))


# ----------------------------------------------------------------------------- flows


def test_flows_are_invisible_and_unchangeable_from_another_workspace(a: WorkspaceApi, b: WorkspaceApi) -> None:
    flow = created(a.post("/flows/", {"name": "etl", "tags": ["keep"]}))

    same_as_unknown(lambda id: b.get(f"/flows/{id}"), flow["id"])
    same_as_unknown(lambda name: b.get(f"/flows/name/{name}"), "etl", "nope")
    assert b.post("/flows/filter", {}).json() == []
    assert b.post("/flows/filter", {"flows": {"id": {"any_": [flow["id"]]}}}).json() == []
    assert b.post("/flows/count", {}).json() == 0
    assert b.get("/flows/").json() == []
    same_as_unknown(lambda id: b.patch(f"/flows/{id}", {"tags": ["changed"]}), flow["id"])
    same_as_unknown(lambda id: b.delete(f"/flows/{id}"), flow["id"])

    assert a.get(f"/flows/{flow['id']}").json()["tags"] == ["keep"]
    assert [row["id"] for row in a.post("/flows/filter", {}).json()] == [flow["id"]]
    assert a.post("/flows/count", {}).json() == 1


def test_flow_names_repeat_across_workspaces(a: WorkspaceApi, b: WorkspaceApi) -> None:
    in_a = a.post("/flows/", {"name": "etl"})
    in_b = b.post("/flows/", {"name": "etl"})
    assert (in_a.status_code, in_b.status_code) == (201, 201)
    assert in_a.json()["id"] != in_b.json()["id"]
    assert b.get("/flows/name/etl").json()["id"] == in_b.json()["id"]
    assert b.delete(f"/flows/{in_b.json()['id']}").status_code == 204
    assert Flow.objects.filter(pk=in_a.json()["id"]).exists()


# ----------------------------------------------------------------------- deployments


def test_deployments_are_invisible_and_unchangeable_from_another_workspace(a: WorkspaceApi, b: WorkspaceApi) -> None:
    dep = make_deployment(a, schedule=HOURLY, work_queue_name="wq", tags=["keep"])["id"]
    schedule_id = str(DeploymentSchedule.objects.get(deployment_id=dep).id)

    for path in ("", "/schedules", "/work_queue_check"):
        same_as_unknown(lambda id, path=path: b.get(f"/deployments/{id}{path}"), dep)
    same_as_unknown(lambda name: b.get(f"/deployments/name/etl/{name}"), "nightly", "nope")
    assert b.post("/deployments/filter", {}).json() == []
    assert b.post("/deployments/count", {}).json() == 0
    assert b.get("/deployments/").json() == []
    assert b.post("/deployments/get_scheduled_flow_runs", {"deployment_ids": [dep]}).json() == []

    same_as_unknown(lambda id: b.patch(f"/deployments/{id}", {"tags": ["x"]}), dep)
    for action in ("set_schedule_inactive", "set_schedule_active", "pause_deployment", "resume_deployment"):
        same_as_unknown(lambda id, action=action: b.post(f"/deployments/{id}/{action}"), dep)
    same_as_unknown(lambda id: b.post(f"/deployments/{id}/create_flow_run", {}), dep)
    same_as_unknown(lambda id: b.post(f"/deployments/{id}/schedules", [HOURLY_ROW]), dep)
    same_as_unknown(lambda id: b.patch(f"/deployments/{id}/schedules/{schedule_id}", {"active": False}), dep)
    same_as_unknown(lambda id: b.delete(f"/deployments/{id}/schedules/{schedule_id}"), dep)
    # /schedule answers null for any id (reference): from b it creates nothing in a.
    same_as_unknown(lambda id: b.post(f"/deployments/{id}/schedule", {}), dep, status=200)
    assert not FlowRun.objects.filter(deployment_id=dep).exists()
    same_as_unknown(lambda id: b.delete(f"/deployments/{id}"), dep)

    row = Deployment.objects.get(pk=dep)
    assert (row.tags, row.is_schedule_active, row.paused) == (["keep"], True, False)
    assert list(row.schedules.values_list("active", flat=True)) == [True]
    assert a.get(f"/deployments/{dep}").json()["tags"] == ["keep"]
    assert a.post("/deployments/count", {}).json() == 1


def test_a_deployment_resolves_its_references_in_its_own_workspace(a: WorkspaceApi, b: WorkspaceApi) -> None:
    flow_a = created(a.post("/flows/", {"name": "etl"}))
    created(a.post("/work_pools/", {"name": "pool-a"}))
    block_a = block_document(a.workspace)
    flow_b = created(b.post("/flows/", {"name": "etl"}))

    def deploy(**fields: Any) -> Any:
        return b.post("/deployments/", {"name": "nightly", "flow_id": flow_b["id"], **fields})

    # Another workspace's flow, pool or block document is an unknown one.
    same_as_unknown(lambda id: deploy(flow_id=id), flow_a["id"], status=409)
    same_as_unknown(lambda name: deploy(work_pool_name=name), "pool-a", "nope")
    for key in ("storage_document_id", "infrastructure_document_id"):
        same_as_unknown(lambda id, key=key: deploy(**{key: id}), str(block_a.id), status=409)
    assert not Deployment.objects.filter(workspace=b.workspace).exists()

    # The same names in both workspaces; b's deployment gets b's own pool and queue.
    in_a = make_deployment(a, flow_name="other", work_queue_name="wq")
    in_b = created(deploy(work_queue_name="wq"))
    assert in_a["name"] == in_b["name"] == "nightly"
    assert in_a["work_pool_name"] == in_b["work_pool_name"] == "default-agent-pool"
    queue_b = Deployment.objects.select_related("work_queue__work_pool").get(pk=in_b["id"]).work_queue
    assert queue_b is not None
    assert (queue_b.workspace_id, queue_b.work_pool.workspace_id) == (b.workspace.id, b.workspace.id)
    same_as_unknown(
        lambda id: b.patch(f"/deployments/{in_b['id']}", {"storage_document_id": id}), str(block_a.id), status=409
    )
    same_as_unknown(lambda name: b.patch(f"/deployments/{in_b['id']}", {"work_pool_name": name}), "pool-a", "nope")


def block_document(workspace: Workspace) -> BlockDocument:
    """A block document of ``workspace`` (a type and schema are shared by every workspace)."""
    block_type = BlockType.objects.create(name="Isolation Test", slug="isolation-test")
    schema = BlockSchema.objects.create(checksum="sha256:isolation", block_type=block_type)
    return BlockDocument.objects.create(workspace=workspace, name="storage", block_schema=schema, block_type=block_type)


def test_a_run_from_a_deployment_is_in_the_deployments_workspace(a: WorkspaceApi, b: WorkspaceApi) -> None:
    deployment = make_deployment(b, work_queue_name="wq")
    run = created(b.post(f"/deployments/{deployment['id']}/create_flow_run", {"state": {"type": "SCHEDULED"}}))
    row = FlowRun.objects.select_related("work_queue").get(pk=run["id"])
    assert row.workspace_id == b.workspace.id
    assert row.work_queue is not None and row.work_queue.workspace_id == b.workspace.id
    assert b.get(f"/flow_runs/{run['id']}").status_code == 200
    assert a.get(f"/flow_runs/{run['id']}").status_code == 404


def test_the_scheduler_creates_a_deployments_runs_in_its_workspace(a: WorkspaceApi, b: WorkspaceApi) -> None:
    in_b = make_deployment(b, schedule=HOURLY)["id"]
    in_a = make_deployment(a, schedule=HOURLY)["id"]  # the same flow and deployment names
    assert schedule_deployments() > 0
    for workspace, deployment in ((b.workspace, in_b), (a.workspace, in_a)):
        runs = FlowRun.objects.filter(deployment_id=deployment)
        assert runs.exists()
        assert set(runs.values_list("workspace_id", flat=True)) == {workspace.id}
    run_b = str(FlowRun.objects.filter(deployment_id=in_b).values_list("id", flat=True)[0])
    assert (b.get(f"/flow_runs/{run_b}").status_code, a.get(f"/flow_runs/{run_b}").status_code) == (200, 404)


# ------------------------------------------------------------ work pools and queues


def test_work_pools_are_invisible_and_unchangeable_from_another_workspace(a: WorkspaceApi, b: WorkspaceApi) -> None:
    created(a.post("/work_pools/", {"name": "pool", "description": "a's"}))
    assert a.post("/work_pools/pool/workers/heartbeat", {"name": "w1"}).status_code == 204

    same_as_unknown(lambda name: b.get(f"/work_pools/{name}"), "pool", "nope")
    assert b.post("/work_pools/filter", {}).json() == []
    assert b.post("/work_pools/count", {}).json() == 0
    same_as_unknown(lambda name: b.patch(f"/work_pools/{name}", {"description": "b's"}), "pool", "nope")
    same_as_unknown(lambda name: b.delete(f"/work_pools/{name}"), "pool", "nope")
    for method, path, body in (
        ("post", "queues", {"name": "q"}),
        ("post", "queues/filter", {}),
        ("get", "queues/default", None),
        ("patch", "queues/default", {"description": "b's"}),
        ("delete", "queues/default", None),
        ("post", "workers/filter", {}),
        ("post", "workers/heartbeat", {"name": "w2"}),
        ("delete", "workers/w1", None),
        ("post", "get_scheduled_flow_runs", {}),
    ):
        request = getattr(b, method)
        args = () if body is None else (body,)
        same_as_unknown(lambda name, p=path, r=request, x=args: r(f"/work_pools/{name}/{p}", *x), "pool", "nope")

    pool = WorkPool.objects.get(workspace=a.workspace, name="pool")
    assert pool.description == "a's"
    assert list(pool.workers.values_list("name", flat=True)) == ["w1"]
    assert [(queue.name, queue.description) for queue in pool.queues.all()] == [("default", "")]

    # b may have a pool of that name, with its own default queue and workers.
    assert created(b.post("/work_pools/", {"name": "pool"}))["name"] == "pool"
    assert b.post("/work_pools/pool/workers/filter", {}).json() == []
    assert [row["name"] for row in b.post("/work_pools/filter", {}).json()] == ["pool"]
    assert (
        a.get("/work_pools/pool/queues/default").json()["id"] != b.get("/work_pools/pool/queues/default").json()["id"]
    )


def test_each_workspace_has_its_own_default_agent_pool(a: WorkspaceApi, b: WorkspaceApi) -> None:
    queue_a = created(a.post("/work_queues/", {"name": "agents"}))
    queue_b = created(b.post("/work_queues/", {"name": "agents"}))
    assert queue_a["id"] != queue_b["id"]
    assert queue_a["work_pool_name"] == queue_b["work_pool_name"] == "default-agent-pool"
    # Each pool came with its queue "default", so the new queue goes after it, as on a new server.
    assert queue_a["priority"] == queue_b["priority"] == 2
    owners = WorkPool.objects.filter(name="default-agent-pool").values_list("workspace_id", flat=True)
    assert sorted(owners) == sorted([DEFAULT_WORKSPACE_ID, a.workspace.id, b.workspace.id])
    default_a = a.get("/work_queues/name/default").json()
    default_b = b.get("/work_queues/name/default").json()
    assert default_a["id"] != default_b["id"]
    assert a.get("/work_pools/default-agent-pool").json()["default_queue_id"] == default_a["id"]
    assert b.delete("/work_pools/default-agent-pool").status_code == 403


def test_work_queues_are_invisible_and_unchangeable_from_another_workspace(a: WorkspaceApi, b: WorkspaceApi) -> None:
    queue = created(a.post("/work_queues/", {"name": "agents", "description": "a's"}))["id"]

    same_as_unknown(lambda id: b.get(f"/work_queues/{id}"), queue)
    same_as_unknown(lambda name: b.get(f"/work_queues/name/{name}"), "agents", "nope")
    same_as_unknown(lambda id: b.get(f"/work_queues/{id}/status"), queue)
    same_as_unknown(lambda id: b.post(f"/work_queues/{id}/get_runs", {}), queue)
    assert [row["name"] for row in b.post("/work_queues/filter", {}).json()] == ["default"]  # b's own
    ids = {"work_queues": {"id": {"any_": [queue]}}}
    assert b.post("/work_queues/filter", ids).json() == []
    same_as_unknown(lambda id: b.patch(f"/work_queues/{id}", {"description": "b's"}), queue)
    same_as_unknown(lambda id: b.delete(f"/work_queues/{id}"), queue)

    row = WorkQueue.objects.get(pk=queue)
    assert (row.description, row.last_polled) == ("a's", None)
    assert created(b.post("/work_queues/", {"name": "agents"}))["id"] != queue


def test_polling_hands_out_only_the_workspaces_runs(a: WorkspaceApi, b: WorkspaceApi) -> None:
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    state = {"type": "SCHEDULED", "state_details": {"scheduled_time": due}}
    deployment_a = make_deployment(a, work_queue_name="default")
    run_a = created(a.post(f"/deployments/{deployment_a['id']}/create_flow_run", {"state": state}))
    queue_a = a.get("/work_queues/name/default").json()
    queue_b = b.get("/work_queues/name/default").json()

    assert b.post(f"/work_queues/{queue_b['id']}/get_runs", {}).json() == []
    assert b.post("/work_pools/default-agent-pool/get_scheduled_flow_runs", {}).json() == []
    assert b.post("/deployments/get_scheduled_flow_runs", {"deployment_ids": [deployment_a["id"]]}).json() == []
    assert [run["id"] for run in a.post(f"/work_queues/{queue_a['id']}/get_runs", {}).json()] == [run_a["id"]]
    polled = a.post("/work_pools/default-agent-pool/get_scheduled_flow_runs", {}).json()
    assert [item["flow_run"]["id"] for item in polled] == [run_a["id"]]


# ------------------------------------------------- saved searches and notifications


def test_saved_searches_are_per_workspace(a: WorkspaceApi, b: WorkspaceApi) -> None:
    search = created(a.put("/saved_searches/", {"name": "x", "filters": []}))["id"]

    same_as_unknown(lambda id: b.get(f"/saved_searches/{id}"), search)
    assert b.post("/saved_searches/filter", {}).json() == []
    same_as_unknown(lambda id: b.delete(f"/saved_searches/{id}"), search)
    # The same name in b is b's own search, not a replacement of a's.
    in_b = b.put("/saved_searches/", {"name": "x", "filters": [FILTER]})
    assert in_b.status_code == 201 and in_b.json()["id"] != search
    assert SavedSearch.objects.get(pk=search).filters == []
    assert [row["id"] for row in a.post("/saved_searches/filter", {}).json()] == [search]


def test_notification_policies_are_per_workspace(a: WorkspaceApi, b: WorkspaceApi) -> None:
    body = {"state_names": ["Failed"], "tags": [], "block_document_id": str(uuid.uuid4())}
    policy = created(a.post("/flow_run_notification_policies/", body))["id"]
    active = {"flow_run_notification_policy_filter": {"is_active": {"eq_": True}}}

    same_as_unknown(lambda id: b.get(f"/flow_run_notification_policies/{id}"), policy)
    assert b.post("/flow_run_notification_policies/filter", active).json() == []
    same_as_unknown(lambda id: b.patch(f"/flow_run_notification_policies/{id}", {"is_active": False}), policy)
    same_as_unknown(lambda id: b.delete(f"/flow_run_notification_policies/{id}"), policy)

    assert FlowRunNotificationPolicy.objects.get(pk=policy).is_active is True
    assert [row["id"] for row in a.post("/flow_run_notification_policies/filter", active).json()] == [policy]
    created(b.post("/flow_run_notification_policies/", body))
    assert len(b.post("/flow_run_notification_policies/filter", active).json()) == 1
