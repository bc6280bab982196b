"""Helpers of the action tests: ``ActionRun`` rows as the trigger evaluator writes them
(the firing document of ``automations_app.actions``), objects made through the API, a
local HTTP server that records what webhooks and notifications send, and the action
events recorded."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from automations_app.models import ActionRun, Automation
from events_app.models import Event
from orion_project.models import DEFAULT_WORKSPACE_ID
from tests.helpers import ApiClient

TRIGGER = {
    "type": "event",
    "id": "9d4c0000-0000-4000-8000-000000000001",
    "posture": "Reactive",
    "expect": ["test.fire"],
    "match": {"prefect.resource.id": "prefect.flow-run.*"},
    "match_related": {},
    "after": [],
    "for_each": [],
    "threshold": 1,
    "within": 0,
}


def automation(name: str = "when it fires", workspace_id: int = DEFAULT_WORKSPACE_ID, **fields: Any) -> Automation:
    """An automation row (the automations API is another part's)."""
    return Automation.objects.create(workspace_id=workspace_id, name=name, trigger=TRIGGER, **fields)


def event(resource_id: str, *related: tuple[str, str], name: str = "test.fire", **labels: str) -> dict[str, Any]:
    """A received event as ``/events/filter`` answers it, about ``resource_id`` with
    ``related`` ``(resource id, role)`` pairs."""
    now = timezone.now().isoformat()
    return {
        "id": str(uuid.uuid4()),
        "occurred": now,
        "received": now,
        "event": name,
        "resource": {"prefect.resource.id": resource_id, **labels},
        "related": [{"prefect.resource.id": rid, "prefect.resource.role": role} for rid, role in related],
        "payload": {"k": "v"},
        "follows": None,
    }


def action_run(
    action: Mapping[str, Any],
    *,
    triggering_event: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    owner: Automation | None = None,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
    index: int = 0,
) -> ActionRun:
    """An ``ActionRun`` as the evaluator writes it when ``owner`` fires on the event."""
    owner = owner or automation(workspace_id=workspace_id)
    triggered = timezone.now().isoformat()
    snapshot = {
        "id": str(owner.id),
        "name": owner.name,
        "description": owner.description,
        "enabled": owner.enabled,
        "trigger": owner.trigger,
        "actions": [dict(action)],
        "actions_on_trigger": [],
        "actions_on_resolve": [],
    }
    firing = {
        "id": str(uuid.uuid4()),
        "trigger": owner.trigger,
        "trigger_states": ["Triggered"],
        "triggered": triggered,
        "triggering_labels": dict(labels or {}),
        "triggering_firings": [],
        "triggering_event": dict(triggering_event) if triggering_event else None,
        "triggering_value": None,
    }
    return ActionRun.objects.create(
        workspace_id=workspace_id,
        automation=owner,
        action=dict(action),
        action_index=index,
        phase="triggered",
        firing={
            "automation": snapshot,
            "firing": firing,
            "triggered": triggered,
            "triggering_labels": dict(labels or {}),
            "triggering_event": dict(triggering_event) if triggering_event else None,
        },
    )


def action_events(workspace_id: int = DEFAULT_WORKSPACE_ID) -> list[Event]:
    """The ``prefect.automation.action.*`` events of the workspace, in the order written."""
    return list(
        Event.objects.filter(workspace_id=workspace_id, event__startswith="prefect.automation.action.").order_by("seq")
    )


def outcome(run: ActionRun) -> Event:
    """The executed or failed event of one action run."""
    [found] = [
        item
        for item in action_events(run.workspace_id)
        if item.payload.get("invocation") == str(run.id) and not item.event.endswith(".triggered")
    ]
    return found


def deployment(api: ApiClient, **fields: Any) -> dict[str, Any]:
    flow = api.post("/flows/", {"name": f"flow-{uuid.uuid4().hex[:8]}"}).json()
    response = api.post("/deployments/", {"name": "d", "flow_id": flow["id"], **fields})
    assert response.status_code in (200, 201), response.content
    return response.json()  # type: ignore[no-any-return]


def block_document(api: ApiClient, slug: str, data: dict[str, Any], *, capabilities: list[str]) -> dict[str, Any]:
    """A block document of the seeded type ``slug`` with a schema of ``capabilities``."""
    block_type = api.get(f"/block_types/slug/{slug}").json()
    schema = api.post(
        "/block_schemas/",
        {"block_type_id": block_type["id"], "fields": {"title": slug, "properties": {}}, "capabilities": capabilities},
    ).json()
    response = api.post(
        "/block_documents/",
        {
            "name": f"{slug}-{uuid.uuid4().hex[:6]}",
            "block_type_id": block_type["id"],
            "block_schema_id": schema["id"],
            "data": data,
        },
    )
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


@dataclass
class Recorder:
    """What a local HTTP server received; a path with ``status/<code>`` answers that code."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def recording_server() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(http.server.BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode()
            recorder.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            status = int(self.path.split("status/")[1][:3]) if "status/" in self.path else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Answer", "yes")
            self.send_header("Authorization", "not-for-events")
            self.end_headers()
            self.wfile.write(json.dumps({"ok": status < 400}).encode())

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


def overdue() -> dt.datetime:
    """A time after every retry delay the tests configure."""
    return timezone.now() + dt.timedelta(days=1)
