"""The events the server records about the status of work pools, work queues and
deployments, and (none) about block documents, through the HTTP API.

The expected sequence was recorded from the 2.20 server (``PREFECT_EXPERIMENTAL_EVENTS=true``)
driven through the same requests, read back with ``POST /api/events/filter``, and its
ids replaced by this test's; the not-ready events are those its foreman service emitted
a minute and a half later, which here the statuses service emits when run with a clock
that far ahead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from flows_app.events import statuses_expire
from orion_project.models import Workspace
from tests.events.emitted_helpers import deploy, emitted, names, ok
from tests.helpers import ApiClient, WorkspaceApi

pytestmark = pytest.mark.django_db


def _pool(pool: dict[str, Any], role: bool = False) -> dict[str, str]:
    labels = {
        "prefect.resource.id": f"prefect.work-pool.{pool['id']}",
        "prefect.resource.name": pool["name"],
        "prefect.work-pool.type": pool["type"],
    }
    return {**labels, "prefect.resource.role": "work-pool"} if role else labels


def _queue(queue: dict[str, Any]) -> dict[str, str]:
    return {
        "prefect.resource.id": f"prefect.work-queue.{queue['id']}",
        "prefect.resource.name": queue["name"],
        "prefect.resource.role": "work-queue",
    }


def _event(name: str, resource: dict[str, str], related: list[dict[str, str]], follows: str | None = None) -> Any:
    return {"event": name, "resource": resource, "related": related, "payload": {}, "follows": follows}


def _shape(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: event[key] for key in ("event", "resource", "related", "payload", "follows")} for event in events]


def test_status_events_follow_what_workers_and_users_do(api: ApiClient) -> None:
    deployed = deploy(api)
    flow, pool, queue, deployment = (deployed[key] for key in ("flow", "pool", "queue", "deployment"))
    ok(api.post("/work_pools/pool-b/workers/heartbeat", {"name": "w1"}))
    ok(api.post("/work_pools/pool-b/get_scheduled_flow_runs", {"work_queue_names": ["q-a"]}))
    ok(api.patch(f"/work_queues/{queue['id']}", {"is_paused": True}))
    ok(api.patch(f"/work_queues/{queue['id']}", {"is_paused": False}))
    ok(api.patch("/work_pools/pool-b", {"is_paused": True}))
    ok(api.patch("/work_pools/pool-b", {"is_paused": False}))
    ok(api.post(f"/deployments/{deployment['id']}/set_schedule_inactive"))
    ok(api.patch(f"/deployments/{deployment['id']}", {"paused": True}))
    legacy = ok(api.post("/work_queues/", {"name": "legacy-q2"}))
    ok(api.post(f"/work_queues/{legacy['id']}/get_runs", {}))
    ok(api.post("/deployments/get_scheduled_flow_runs", {"deployment_ids": [deployment["id"]]}))

    agent_pool = ok(api.get("/work_pools/default-agent-pool"))
    deployment_labels = {
        "prefect.resource.id": f"prefect.deployment.{deployment['id']}",
        "prefect.resource.name": "dep-a",
    }
    deployment_related = [
        {
            "prefect.resource.id": f"prefect.flow.{flow['id']}",
            "prefect.resource.name": "dep-flow",
            "prefect.resource.role": "flow",
        },
        _queue(queue),
        _pool(pool, role=True),
    ]
    events = emitted()
    ids = [event["id"] for event in events]
    assert _shape(events) == [
        _event("prefect.work-pool.not-ready", _pool(pool), []),
        _event("prefect.work-pool.ready", _pool(pool), []),
        _event("prefect.work-queue.ready", _queue(queue), [_pool(pool, role=True)]),
        _event("prefect.deployment.ready", deployment_labels, deployment_related),
        _event("prefect.work-queue.paused", _queue(queue), [_pool(pool, role=True)]),
        _event("prefect.work-queue.ready", _queue(queue), [_pool(pool, role=True)]),
        _event("prefect.work-pool.paused", _pool(pool), [], follows=ids[1]),
        _event("prefect.work-pool.ready", _pool(pool), [], follows=ids[6]),
        _event("prefect.work-queue.ready", _queue(legacy), [_pool(agent_pool, role=True)]),
    ]

    # The statuses service, a minute and a half later: the worker is offline, nothing polled.
    later = timezone.now() + dt.timedelta(seconds=100)
    assert statuses_expire(now=later) == 4
    assert statuses_expire(now=later) == 0
    expired = emitted()[len(events) :]
    # The two queues come in no particular order (the reference's pass reads them unordered).
    queue_events = sorted(_shape(expired[2:]), key=lambda event: event["resource"]["prefect.resource.name"])
    assert _shape(expired[:2]) + queue_events == [
        _event("prefect.work-pool.not-ready", _pool(pool), [], follows=ids[7]),
        _event("prefect.deployment.not-ready", deployment_labels, deployment_related),
        _event("prefect.work-queue.not-ready", _queue(legacy), [_pool(agent_pool, role=True)]),
        _event("prefect.work-queue.not-ready", _queue(queue), [_pool(pool, role=True)]),
    ]
    assert all(event["occurred"] == later for event in expired)


def test_a_poll_of_a_ready_queue_or_a_repeated_pause_announces_nothing_new(api: ApiClient) -> None:
    pool = ok(api.post("/work_pools/", {"name": "pool-c", "type": "process", "is_paused": True}))
    for _ in range(2):
        # A poll of a pool without queue names polls all its queues (here its default one).
        ok(api.post("/work_pools/pool-c/get_scheduled_flow_runs", {}))
        ok(api.patch(f"/work_queues/{pool['default_queue_id']}", {"is_paused": True}))
        ok(api.post("/work_pools/pool-c/workers/heartbeat", {"name": "w"}))
    assert names(emitted()) == ["prefect.work-pool.paused", "prefect.work-queue.ready", "prefect.work-queue.paused"]


def test_agent_pools_have_no_status_events(api: ApiClient) -> None:
    ok(api.post("/work_pools/", {"name": "agents", "type": "prefect-agent"}))
    ok(api.patch("/work_pools/agents", {"is_paused": True}))
    ok(api.post("/work_pools/agents/workers/heartbeat", {"name": "w"}))
    assert emitted() == []


def test_block_documents_emit_nothing(api: ApiClient) -> None:
    # The 2.20 server emits no event for block documents; its client emits
    # prefect.block.<type>.* events itself when a block's methods are called.
    block_type = ok(api.post("/block_types/", {"name": "Emit Thing", "slug": "emit-thing"}))
    fields = {
        "title": "x",
        "type": "object",
        "properties": {"s": {"type": "string", "format": "password", "writeOnly": True}},
        "secret_fields": ["s"],
    }
    schema = ok(api.post("/block_schemas/", {"block_type_id": block_type["id"], "fields": fields, "capabilities": []}))
    body = {"name": "bd1", "block_type_id": block_type["id"], "block_schema_id": schema["id"], "data": {"s": "secret"}}
    document = ok(api.post("/block_documents/", body))
    ok(api.get(f"/block_documents/{document['id']}"))
    ok(api.patch(f"/block_documents/{document['id']}", {"data": {"s": "other"}}))
    ok(api.delete(f"/block_documents/{document['id']}"))
    assert emitted() == []


def test_events_off_keeps_the_statuses(api: ApiClient, settings: Any) -> None:
    settings.ORION_EVENTS_EMIT = False
    ok(api.post("/work_pools/", {"name": "pool-d", "type": "process"}))
    ok(api.post("/work_pools/pool-d/workers/heartbeat", {"name": "w"}))
    settings.ORION_EVENTS_EMIT = True
    ok(api.patch("/work_pools/pool-d", {"is_paused": True}))
    [event] = emitted()
    assert event["event"] == "prefect.work-pool.paused"
    assert event["follows"] is not None


def test_status_events_land_in_the_pool_s_workspace(db: None, client: Client) -> None:
    for slug in ("a", "b"):
        workspace = Workspace.objects.create(slug=slug)
        api = WorkspaceApi(client, slug, workspace)
        pool = ok(api.post("/work_pools/", {"name": "same-name", "type": "process"}))
        [event] = emitted(workspace_id=workspace.pk)
        assert event["resource"]["prefect.resource.id"] == f"prefect.work-pool.{pool['id']}"
