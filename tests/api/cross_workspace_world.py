"""Workspace A's records for ``tests/api/test_cross_workspace.py`` (created through the API
the way a client creates them), and the checks that run one probe through workspace B."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.test import Client

from tests.api.cross_workspace_probes import LOG, MARKER, NOW, READ_ACTIONS, Probe

# ----------------------------------------------------------------------------- the world


class Caller:
    """Sends JSON to one workspace's API with that workspace's credentials."""

    def __init__(self, client: Client, slug: str, key: str | None) -> None:
        self.client, self.prefix = client, f"/api/workspaces/{slug}"
        self.headers = {"HTTP_X_PREFECT_API_VERSION": "0.8.4"}
        if key is not None:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        kwargs: dict[str, Any] = dict(self.headers)
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method.lower())(self.prefix + path, **kwargs)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self(method, path, body)
        assert response.status_code < 300, f"{method} {self.prefix}{path}: {response.status_code} {response.content!r}"
        return response.json() if response.content else None


def build_world(send: Caller) -> dict[str, str]:
    """A's records, created through A's API the way the clients create them; their ids
    and names by reference name (``shared_*``: the shared catalogue's)."""
    refs: dict[str, str] = {}
    flow = send.ok("POST", "/flows/", {"name": "xwsa-flow"})
    refs.update(flow=flow["id"], flow_name=flow["name"])
    pool = send.ok("POST", "/work_pools/", {"name": "xwsa-pool", "type": "process"})
    send.ok("POST", "/work_pools/xwsa-pool/queues", {"name": "xwsa-pool-q"})
    send.ok("POST", "/work_pools/xwsa-pool/workers/heartbeat", {"name": "xwsa-worker"})
    refs.update(pool=pool["name"], pool_queue="xwsa-pool-q", worker="xwsa-worker")
    deployment = send.ok(
        "POST",
        "/deployments/",
        {
            "name": "xwsa-dep",
            "flow_id": flow["id"],
            "work_pool_name": "xwsa-pool",
            "work_queue_name": "xwsa-pool-q",
            "schedules": [{"schedule": {"interval": 3600}, "active": True}],
            "tags": ["xwsa-tag"],
        },
    )
    schedules = send.ok("GET", f"/deployments/{deployment['id']}/schedules")
    refs.update(deployment=deployment["id"], deployment_name=deployment["name"], schedule=schedules[0]["id"])
    queue = send.ok("POST", "/work_queues/", {"name": "xwsa-wq"})
    refs.update(work_queue=queue["id"], work_queue_name=queue["name"])

    run = send.ok(
        "POST", f"/deployments/{deployment['id']}/create_flow_run", {"name": "xwsa-run", "tags": ["xwsa-tag"]}
    )
    running = send.ok("POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}, "force": True})
    refs.update(flow_run=run["id"], flow_run_state=running["state"]["id"])
    task_run = send.ok(
        "POST",
        "/task_runs/",
        {
            "flow_run_id": run["id"],
            "task_key": "xwsa-task",
            "dynamic_key": "0",
            "name": "xwsa-task-run",
            "state": {"type": "RUNNING"},
        },
    )
    refs.update(task_run=task_run["id"], task_run_state=task_run["state"]["id"])
    done = send.ok("POST", "/flow_runs/", {"flow_id": flow["id"], "name": "xwsa-done", "state": {"type": "COMPLETED"}})
    late = send.ok(
        "POST",
        "/flow_runs/",
        {
            "flow_id": flow["id"],
            "name": "xwsa-late",
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": (NOW - timedelta(hours=1)).isoformat()}},
        },
    )
    paused = send.ok(
        "POST", "/flow_runs/", {"flow_id": flow["id"], "name": "xwsa-paused", "state": {"type": "RUNNING"}}
    )
    send.ok(
        "POST", f"/flow_runs/{paused['id']}/set_state", {"state": {"type": "PAUSED", "name": "Paused"}, "force": True}
    )
    refs.update(done_run=done["id"], late_run=late["id"], paused_run=paused["id"])
    send.ok("POST", "/logs/", [{**LOG, "message": "xwsa-log", "flow_run_id": run["id"], "task_run_id": task_run["id"]}])
    send.ok("POST", f"/flow_runs/{run['id']}/input", {"key": "xwsa-input", "value": '"a"'})
    refs.update(input_key="xwsa-input")

    # The shared catalogue: no marker in these names, they are visible to every workspace.
    block_type = send.ok(
        "POST",
        "/block_types/",
        {"name": f"xws shared {uuid.uuid4().hex[:6]}", "slug": f"xws-shared-{uuid.uuid4().hex[:6]}"},
    )
    schema = send.ok(
        "POST",
        "/block_schemas/",
        {
            "block_type_id": block_type["id"],
            "fields": {"properties": {"value": {"type": "string"}}},
            "capabilities": [],
        },
    )
    refs.update(
        shared_block_type=block_type["id"], shared_block_type_slug=block_type["slug"], shared_block_schema=schema["id"]
    )
    document = send.ok(
        "POST",
        "/block_documents/",
        {
            "name": "xwsa-doc",
            "block_type_id": block_type["id"],
            "block_schema_id": schema["id"],
            "data": {"value": "xwsa-secret"},
        },
    )
    refs.update(block_document=document["id"], block_document_name=document["name"])
    variable = send.ok("POST", "/variables/", {"name": "xwsa_var", "value": "xwsa-value"})
    refs.update(variable=variable["id"], variable_name=variable["name"])
    automation = send.ok(
        "POST",
        "/automations/",
        {
            "name": "xwsa-automation",
            "owner_resource": "prefect.flow.xwsa-owner",
            "trigger": {"posture": "Reactive", "expect": ["xwsa.event"]},
            "actions": [{"type": "run-deployment", "deployment_id": refs["deployment"]}],
        },
    )
    refs.update(automation=automation["id"], automation_owner="prefect.flow.xwsa-owner")
    send.ok("POST", "/artifacts/", {"key": "xwsa-art", "data": "xwsa-1", "flow_run_id": run["id"]})
    artifact = send.ok("POST", "/artifacts/", {"key": "xwsa-art", "data": "xwsa-2", "flow_run_id": run["id"]})
    refs.update(artifact=artifact["id"], artifact_key=artifact["key"])
    limit = send.ok("POST", "/concurrency_limits/", {"tag": "xwsa-tag", "concurrency_limit": 5})
    refs.update(concurrency_limit=limit["id"], tag=limit["tag"])
    gcl = send.ok("POST", "/v2/concurrency_limits/", {"name": "xwsa-gcl", "limit": 3, "active_slots": 1})
    refs.update(gcl=gcl["id"], gcl_name=gcl["name"])
    search = send.ok("PUT", "/saved_searches/", {"name": "xwsa-search", "filters": []})
    refs.update(saved_search=search["id"], saved_search_name=search["name"])
    policy = send.ok(
        "POST",
        "/flow_run_notification_policies/",
        {"block_document_id": document["id"], "tags": ["xwsa-tag"], "state_names": ["Failed"]},
    )
    refs.update(policy=policy["id"])
    event = {"event": "xwsa.happened", "resource": {"prefect.resource.id": "xwsa.widget"}, "occurred": NOW.isoformat()}
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert send("POST", "/events", [{**event, "id": first}, {**event, "id": second}]).status_code == 204
    page = send.ok("POST", "/events/filter", {"limit": 1})
    refs.update(event=first, event_resource="xwsa.widget", event_page_token=page["next_page"].split("page-token=")[1])
    return refs


def unknown_refs(refs: dict[str, str]) -> dict[str, str]:
    """Names and ids like A's that name nothing (the shared catalogue's stay as they are)."""
    unknown = {}
    for key, value in refs.items():
        if key.startswith("shared_"):
            unknown[key] = value
        elif _is_uuid(value):
            unknown[key] = str(uuid.uuid4())
        else:
            unknown[key] = value.replace(MARKER, "xwsz") + uuid.uuid4().hex[:6]
    return unknown


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# What A's records look like through A, each read with the references it covers: a write
# that B was refused re-reads those of the records it named, one carried out re-reads all.
RUNS = ("flow_run", "done_run", "late_run", "paused_run", "flow", "deployment")
SNAPSHOT_READS: list[tuple[str, str, Any, tuple[str, ...]]] = [
    ("GET", "/flows/{flow}", None, ("flow", "flow_name")),
    ("GET", "/deployments/{deployment}", None, ("deployment", "deployment_name", "flow_name")),
    ("GET", "/deployments/{deployment}/schedules", None, ("deployment", "schedule")),
    ("GET", "/work_pools/{pool}", None, ("pool",)),
    ("GET", "/work_pools/{pool}/queues/{pool_queue}", None, ("pool", "pool_queue")),
    ("POST", "/work_pools/{pool}/workers/filter", {}, ("pool", "worker")),
    ("GET", "/work_queues/{work_queue}", None, ("work_queue", "work_queue_name")),
    ("POST", "/flow_runs/filter", {"sort": "ID_DESC"}, RUNS),
    ("POST", "/task_runs/filter", {"sort": "ID_DESC"}, ("task_run", "task_run_state", "flow_run")),
    ("GET", "/flow_run_states/?flow_run_id={flow_run}", None, ("flow_run", "flow_run_state", "paused_run")),
    ("POST", "/logs/filter", {}, ("flow_run", "task_run")),
    ("POST", "/flow_runs/{flow_run}/input/filter", {"prefix": "xws"}, ("flow_run", "input_key")),
    (
        "GET",
        "/block_documents/{block_document}?include_secrets=true",
        None,
        ("block_document", "block_document_name", "shared_block_type", "shared_block_schema"),
    ),
    ("GET", "/variables/{variable}", None, ("variable", "variable_name")),
    ("GET", "/automations/{automation}", None, ("automation", "automation_owner", "deployment")),
    ("POST", "/artifacts/filter", {}, ("artifact", "artifact_key", "flow_run")),
    ("GET", "/artifacts/{artifact_key}/latest", None, ("artifact", "artifact_key")),
    ("GET", "/concurrency_limits/{concurrency_limit}", None, ("concurrency_limit", "tag")),
    ("GET", "/v2/concurrency_limits/{gcl}", None, ("gcl", "gcl_name")),
    ("GET", "/saved_searches/{saved_search}", None, ("saved_search", "saved_search_name")),
    ("GET", "/flow_run_notification_policies/{policy}", None, ("policy", "block_document")),
    ("POST", "/flows/count", {}, ("flow", "flow_name")),
    ("POST", "/deployments/count", {}, ("deployment", "deployment_name", "flow")),
    ("POST", "/work_queues/filter", {}, ("work_queue", "work_queue_name", "pool_queue", "deployment")),
    ("POST", "/variables/count", {}, ("variable", "variable_name")),
    ("POST", "/block_documents/count", {}, ("block_document", "block_document_name")),
    ("POST", "/events/filter", {}, ("event", "event_resource")),
]
# Computed from the clock at each read, not stored: they differ between two reads (a
# pool's, queue's, worker's or deployment's status turns NOT_READY/OFFLINE a minute after
# the last poll; B pausing A's pool shows in ``is_paused`` all the same).
VOLATILE = {"estimated_run_time", "estimated_start_time_delta", "status"}


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def snapshot(send: Caller, refs: dict[str, str], named: set[str] | None = None) -> dict[str, Any]:
    """A's records as A reads them: all of them, or those covering the references ``named``."""
    seen = {}
    for method, path, body, covers in SNAPSHOT_READS:
        if named is not None and not named.intersection(covers):
            continue
        response = send(method, render(path, refs), render(body, refs))
        seen[f"{method} {path}"] = (response.status_code, _without_volatile(_json(response)))
    return seen


# ----------------------------------------------------------------------------- checks


def render(template: Any, refs: dict[str, str]) -> Any:
    if isinstance(template, str):
        return re.sub(r"\{(\w+)\}", lambda m: refs[m.group(1)], template)
    if isinstance(template, dict):
        return {key: render(value, refs) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, refs) for value in template]
    return template


def _json(response: Any) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.content.decode(errors="replace")


def _masked(response: Any, refs: dict[str, str]) -> str:
    """The answer with each named record replaced by its reference name."""
    text = response.content.decode(errors="replace")
    for key, value in sorted(refs.items(), key=lambda item: -len(item[1])):
        text = text.replace(value, f"<{key}>")
    return f"{response.status_code} {text}"


def _mentions_a(text: str, refs: dict[str, str], sent: str) -> list[str]:
    """A's records the text names that the request did not name itself."""
    found = [
        key for key, value in refs.items() if not key.startswith("shared_") and value in text and value not in sent
    ]
    if MARKER in text.lower() and MARKER not in sent.lower():
        found.append(f"a name containing {MARKER!r}")
    return sorted(set(found))


def _all_zero(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, dict):
        return all(_all_zero(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_zero(v) for v in value)
    return True


def probe_writes(route: str, probe: Probe) -> bool:
    if probe.writes is not None:
        return probe.writes
    return probe.method != "GET" and not READ_ACTIONS.search(route)


@dataclass
class Outcome:
    checked: int = 0
    failures: list[str] = field(default_factory=list)


@contextmanager
def rolled_back() -> Iterator[None]:
    """A savepoint undone afterwards: the next probe sees A's world as it was built."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def run_probe(
    route: tuple[str, str], probe: Probe, a: Caller, b: Caller, refs: dict[str, str], before: dict[str, Any]
) -> list[str]:
    """The reasons ``probe`` fails (empty when it holds)."""
    label = f"{route[0]} {route[1]}: {probe.method} {probe.path}"
    problems: list[str] = []
    answers = {}
    for name, names in (("attack", refs), ("unknown", unknown_refs(refs))):
        if name == "unknown" and not (probe.kind == "same" and probe.compare):
            continue
        with rolled_back():
            names = {**names, **(probe.prepare(b) if probe.prepare else {})}
            path, body = render(probe.path, names), render(probe.body, names)
            try:
                response = b(probe.method, path, body)
            except Exception as error:  # a 500 raised through the test client
                problems.append(f"{label}: {name} request raised {type(error).__name__}: {error}")
                continue
            answers[name] = (response, names, json.dumps([path, body]))
            if name == "attack" and probe_writes(route[1], probe):
                named = set(re.findall(r"\{(\w+)\}", json.dumps([probe.path, probe.body])))
                refused = response.status_code >= 400 and any(set(covers) & named for *_, covers in SNAPSHOT_READS)
                after = snapshot(a, refs, named if refused else None)
                changed = sorted(read for read in after if before[read] != after[read])
                if changed:
                    problems.append(f"{label}: A's records changed through B: {', '.join(changed)}")
    if "attack" not in answers:
        return problems
    response, _names, sent = answers["attack"]
    text = response.content.decode(errors="replace")
    if response.status_code >= 500:
        problems.append(f"{label}: {response.status_code} {text[:300]}")
    elif probe.kind == "same":
        if probe.status is not None and response.status_code != probe.status:
            problems.append(f"{label}: answered {response.status_code}, expected {probe.status}: {text[:300]}")
        if "unknown" in answers:
            unknown, unknown_names, _ = answers["unknown"]
            if unknown.status_code < 300 and response.status_code < 300 and probe_writes(route[1], probe):
                pass  # both wrote a record of B's own (fresh ids): A's records were compared above
            elif _masked(response, refs) != _masked(unknown, unknown_names):
                problems.append(
                    f"{label}: differs from an unknown name's answer: "
                    f"{_masked(response, refs)[:300]} != {_masked(unknown, unknown_names)[:300]}"
                )
        if response.status_code < 300 and (leaked := _mentions_a(text, refs, sent)):
            problems.append(f"{label}: the answer names A's {', '.join(leaked)}")
    else:
        if response.status_code >= 300:
            problems.append(f"{label}: answered {response.status_code}: {text[:300]}")
        elif probe.kind == "absent" and (leaked := _mentions_a(text, refs, sent)):
            problems.append(f"{label}: the answer names A's {', '.join(leaked)}")
        elif probe.kind == "zero" and not _all_zero(_json(response)):
            problems.append(f"{label}: counts A's records: {text[:300]}")
    return problems
