"""Reading back the events the server emitted, in the shape the API answers them, for the
``test_emitted_*`` modules (imported from here, never from another test module)."""

from __future__ import annotations

from typing import Any

from events_app.models import Event
from tests.helpers import ApiClient


def emitted(prefix: str = "prefect.", *, workspace_id: int | None = None) -> list[dict[str, Any]]:
    """The events whose name starts with ``prefix``, in the order they were recorded."""
    rows = Event.objects.filter(event__startswith=prefix).order_by("seq")
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    return [
        {
            "event": row.event,
            "resource": row.resource,
            "related": row.related,
            "payload": row.payload,
            "id": str(row.uuid),
            "follows": str(row.follows) if row.follows else None,
            "occurred": row.occurred,
        }
        for row in rows
    ]


def names(events: list[dict[str, Any]]) -> list[str]:
    return [event["event"] for event in events]


def ok(response: Any) -> Any:
    """The JSON of a successful answer."""
    assert response.status_code < 300, response.content
    return response.json() if response.content else None


def deploy(api: ApiClient) -> dict[str, Any]:
    """The reference's set-up: a flow, a process pool with a queue, and a deployment on
    it, with tags on the flow and the deployment."""
    flow = ok(api.post("/flows/", {"name": "dep-flow", "tags": ["ft"]}))
    pool = ok(api.post("/work_pools/", {"name": "pool-b", "type": "process"}))
    queue = ok(api.post("/work_pools/pool-b/queues", {"name": "q-a"}))
    body = {
        "name": "dep-a",
        "flow_id": flow["id"],
        "work_pool_name": "pool-b",
        "work_queue_name": "q-a",
        "tags": ["dt"],
    }
    deployment = ok(api.post("/deployments/", body))
    return {"flow": flow, "pool": pool, "queue": queue, "deployment": deployment}
