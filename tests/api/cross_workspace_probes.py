"""The probe table of ``tests/api/test_cross_workspace.py``: for every ``(method, route)``
of the API, the requests through workspace B that prove it keeps workspace A's records
apart, or why the route holds no workspace data."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

A, B = "xws-a", "xws-b"
# Every name A's records carry contains this, so an answer that mentions one is a leak.
MARKER = "xwsa"
AUTH = os.environ.get("ORION_XWS_AUTH", "none")
READ_ACTIONS = re.compile(r"(^|/)(filter|count|history|lateness|counts)$")

# ----------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class Probe:
    """One request through B naming A's records, and what must hold of its answer."""

    kind: str  # "same" | "absent" | "zero"
    method: str
    path: str  # with {ref} placeholders, relative to the workspace's API root
    body: Any = None
    status: int | None = None  # the status "same" must also have (404 for item routes)
    writes: bool | None = None  # None: decided by the method and the route
    compare: bool = True  # "same" without comparing to the unknown-name answer (shared catalogue)
    prepare: Callable[[Callable[..., Any]], dict[str, str]] | None = None  # B's own records the probe needs


def item(method: str, path: str, body: Any = None) -> Probe:
    """An item route named by A's id or name: 404, the body of an unknown one."""
    return Probe("same", method, path, body, status=404)


def same(method: str, path: str, body: Any = None, **options: Any) -> Probe:
    """A request whose answer must not depend on A's records existing."""
    return Probe("same", method, path, body, **options)


def absent(method: str, path: str, body: Any = None) -> Probe:
    return Probe("absent", method, path, body)


def zero(method: str, path: str, body: Any = None) -> Probe:
    return Probe("zero", method, path, body)


def _b_flow(send: Callable[..., Any]) -> dict[str, str]:
    """A flow of B's own, for probes that create B's records pointing at A's."""
    response = send("post", "/flows/", {"name": f"xwsb-flow-{uuid.uuid4().hex[:6]}"})
    return {"b_flow": response.json()["id"]}


AUTOMATION = {"name": "xwsb-automation", "trigger": {"posture": "Reactive"}, "actions": []}
RUN_A_DEPLOYMENT = {"type": "run-deployment", "deployment_id": "{deployment}"}

HOUR = 3600
NOW = datetime.now(UTC)
HISTORY = {
    "history_start": (NOW - timedelta(days=2)).isoformat(),
    "history_end": (NOW + timedelta(days=2)).isoformat(),
    "history_interval_seconds": 6 * HOUR,
}
RUN_IDS = {"id": {"any_": ["{flow_run}", "{done_run}", "{late_run}"]}}
LOG = {
    "name": "xwsb",
    "level": 20,
    "message": "written by b",
    "timestamp": NOW.isoformat(),
    "flow_run_id": "{flow_run}",
    "task_run_id": "{task_run}",
}
DOCUMENT = {
    "name": "{block_document_name}",
    "block_type_id": "{shared_block_type}",
    "block_schema_id": "{shared_block_schema}",
    "data": {"value": "xwsb"},
}

EVENT = {"event": "xwsb.happened", "resource": {"prefect.resource.id": "{event_resource}"}, "occurred": NOW.isoformat()}

# Server-level routes: the process, its settings and its database, not a workspace's records.
NOT_WORKSPACE_DATA: dict[tuple[str, str], str] = {
    ("GET", "health"): "liveness probe of the process",
    ("GET", "hello"): "liveness probe of the process",
    ("GET", "ready"): "readiness of the process and its database connection",
    ("GET", "version"): "the API version the server speaks",
    ("GET", "admin/version"): "the server's version",
    ("GET", "csrf-token"): "a CSRF token for a browser client, bound to the client, not to records",
    ("GET", "openapi.json"): "the API's description, the same for every workspace",
    ("GET", "openapi.yaml"): "the API's description, the same for every workspace",
    ("GET", "docs"): "the API's documentation page, the same for every workspace",
    ("GET", "metrics"): "the server's Prometheus gauges, every workspace labelled by its slug",
    ("GET", "admin/settings"): "the server's settings (secrets masked), one set for every workspace",
    ("POST", "admin/database/clear"): "server administration of the whole database, not a workspace route",
    ("POST", "admin/database/drop"): "server administration of the whole database, not a workspace route",
    ("POST", "admin/database/create"): "server administration of the whole database, not a workspace route",
    # The block catalogue is shared (the clients register the same types and schemas in
    # every workspace); the documents of a type are per workspace and probed below.
    ("POST", "block_types/"): "shared catalogue: block types",
    ("GET", "block_types/slug/{slug}"): "shared catalogue: block types",
    ("POST", "block_types/filter"): "shared catalogue: block types",
    ("POST", "block_types/install_system_block_types"): "shared catalogue: block types",
    ("GET", "block_types/{id}"): "shared catalogue: block types",
    ("PATCH", "block_types/{id}"): "shared catalogue: block types (a change shows in every workspace)",
    ("POST", "block_schemas/"): "shared catalogue: block schemas",
    ("GET", "block_schemas/checksum/{checksum}"): "shared catalogue: block schemas",
    ("POST", "block_schemas/filter"): "shared catalogue: block schemas",
    ("GET", "block_schemas/{id}"): "shared catalogue: block schemas",
    ("GET", "block_capabilities/"): "shared catalogue: the capabilities of the block schemas",
    # Stateless answers computed from the request alone.
    ("POST", "ui/schemas/validate"): "checks the body's values against the body's schema; reads no records",
    ("POST", "templates/validate"): "checks the body's template syntax; reads no records",
    ("GET", "collections/views/{view}"): "the integrations registry, a static document",
}
for _method in ("GET", "POST", "PATCH", "DELETE"):
    NOT_WORKSPACE_DATA[(_method, "experimental/work_pools/{name}/{rest}")] = (
        "2.7.12's disabled experimental routes: always 404, read nothing"
    )
NOT_WORKSPACE_DATA.update(
    {
        ("POST", "experimental/work_pools/"): "2.7.12's disabled experimental routes: always 404, read nothing",
        ("POST", "experimental/work_pools/filter"): "2.7.12's disabled experimental routes: always 404, read nothing",
        ("GET", "experimental/work_pools/{name}"): "2.7.12's disabled experimental routes: always 404, read nothing",
        ("PATCH", "experimental/work_pools/{name}"): "2.7.12's disabled experimental routes: always 404, read nothing",
        ("DELETE", "experimental/work_pools/{name}"): "2.7.12's disabled experimental routes: always 404, read nothing",
    }
)

TABLE: dict[tuple[str, str], list[Probe]] = {
    # flows
    ("GET", "flows/"): [absent("GET", "/flows/")],
    ("POST", "flows/"): [same("POST", "/flows/", {"name": "{flow_name}"})],
    ("GET", "flows/name/{name}"): [item("GET", "/flows/name/{flow_name}")],
    ("POST", "flows/count"): [
        zero("POST", "/flows/count", {}),
        same("POST", "/flows/count", {"flows": {"id": {"any_": ["{flow}"]}}}),
    ],
    ("POST", "flows/filter"): [
        absent("POST", "/flows/filter", {}),
        absent("POST", "/flows/filter", {"flows": {"name": {"any_": ["{flow_name}"]}}}),
    ],
    ("GET", "flows/{id}"): [item("GET", "/flows/{flow}")],
    ("PATCH", "flows/{id}"): [item("PATCH", "/flows/{flow}", {"tags": ["xwsb"]})],
    ("DELETE", "flows/{id}"): [item("DELETE", "/flows/{flow}")],
    # deployments and their schedules
    ("GET", "deployments/"): [absent("GET", "/deployments/")],
    ("POST", "deployments/"): [
        same("POST", "/deployments/", {"name": "{deployment_name}", "flow_id": "{flow}"}),
        same(
            "POST",
            "/deployments/",
            {"name": "xwsb-dep", "flow_id": "{b_flow}", "work_pool_name": "{pool}", "work_queue_name": "{pool_queue}"},
            prepare=_b_flow,
        ),
        same(
            "POST",
            "/deployments/",
            {"name": "xwsb-dep", "flow_id": "{b_flow}", "infrastructure_document_id": "{block_document}"},
            prepare=_b_flow,
        ),
    ],
    ("GET", "deployments/name/{flow_name}/{deployment_name}"): [
        item("GET", "/deployments/name/{flow_name}/{deployment_name}")
    ],
    ("POST", "deployments/count"): [
        zero("POST", "/deployments/count", {}),
        same("POST", "/deployments/count", {"deployments": {"id": {"any_": ["{deployment}"]}}}),
    ],
    ("POST", "deployments/filter"): [
        absent("POST", "/deployments/filter", {}),
        absent("POST", "/deployments/filter", {"flows": {"id": {"any_": ["{flow}"]}}}),
    ],
    ("POST", "deployments/get_scheduled_flow_runs"): [
        same("POST", "/deployments/get_scheduled_flow_runs", {"deployment_ids": ["{deployment}"]}, writes=True)
    ],
    ("GET", "deployments/{id}"): [item("GET", "/deployments/{deployment}")],
    ("PATCH", "deployments/{id}"): [item("PATCH", "/deployments/{deployment}", {"description": "xwsb"})],
    ("DELETE", "deployments/{id}"): [item("DELETE", "/deployments/{deployment}")],
    ("POST", "deployments/{id}/create_flow_run"): [item("POST", "/deployments/{deployment}/create_flow_run", {})],
    ("POST", "deployments/{id}/pause_deployment"): [item("POST", "/deployments/{deployment}/pause_deployment")],
    ("POST", "deployments/{id}/resume_deployment"): [item("POST", "/deployments/{deployment}/resume_deployment")],
    # 200 null for any id (the reference's answer for an unknown deployment): A's runs are re-read.
    ("POST", "deployments/{id}/schedule"): [same("POST", "/deployments/{deployment}/schedule", {})],
    ("GET", "deployments/{id}/schedules"): [item("GET", "/deployments/{deployment}/schedules")],
    ("POST", "deployments/{id}/schedules"): [
        item("POST", "/deployments/{deployment}/schedules", [{"schedule": {"interval": 60}}])
    ],
    ("POST", "deployments/{id}/set_schedule_active"): [item("POST", "/deployments/{deployment}/set_schedule_active")],
    ("POST", "deployments/{id}/set_schedule_inactive"): [
        item("POST", "/deployments/{deployment}/set_schedule_inactive")
    ],
    ("PATCH", "deployments/{id}/schedules/{schedule_id}"): [
        item("PATCH", "/deployments/{deployment}/schedules/{schedule}", {"active": False})
    ],
    ("DELETE", "deployments/{id}/schedules/{schedule_id}"): [
        item("DELETE", "/deployments/{deployment}/schedules/{schedule}")
    ],
    ("GET", "deployments/{id}/work_queue_check"): [item("GET", "/deployments/{deployment}/work_queue_check")],
    # work queues (the agents' API)
    ("POST", "work_queues/"): [same("POST", "/work_queues/", {"name": "{work_queue_name}"})],
    ("GET", "work_queues/name/{name}"): [item("GET", "/work_queues/name/{work_queue_name}")],
    ("POST", "work_queues/filter"): [absent("POST", "/work_queues/filter", {})],
    ("GET", "work_queues/{id}"): [item("GET", "/work_queues/{work_queue}")],
    ("PATCH", "work_queues/{id}"): [item("PATCH", "/work_queues/{work_queue}", {"is_paused": True})],
    ("DELETE", "work_queues/{id}"): [item("DELETE", "/work_queues/{work_queue}")],
    ("POST", "work_queues/{id}/get_runs"): [item("POST", "/work_queues/{work_queue}/get_runs", {})],
    ("GET", "work_queues/{id}/status"): [item("GET", "/work_queues/{work_queue}/status")],
    # work pools, their queues and workers
    ("POST", "work_pools/"): [same("POST", "/work_pools/", {"name": "{pool}", "type": "process"})],
    ("POST", "work_pools/count"): [same("POST", "/work_pools/count", {"work_pools": {"name": {"any_": ["{pool}"]}}})],
    ("POST", "work_pools/filter"): [absent("POST", "/work_pools/filter", {})],
    ("GET", "work_pools/{name}"): [item("GET", "/work_pools/{pool}")],
    ("PATCH", "work_pools/{name}"): [item("PATCH", "/work_pools/{pool}", {"is_paused": True})],
    ("DELETE", "work_pools/{name}"): [item("DELETE", "/work_pools/{pool}")],
    ("DELETE", "work_pools/{name}/workers/{worker_name}"): [item("DELETE", "/work_pools/{pool}/workers/{worker}")],
    ("POST", "work_pools/{name}/get_scheduled_flow_runs"): [
        item("POST", "/work_pools/{pool}/get_scheduled_flow_runs", {})
    ],
    ("POST", "work_pools/{name}/workers/heartbeat"): [
        item("POST", "/work_pools/{pool}/workers/heartbeat", {"name": "{worker}"})
    ],
    ("GET", "work_pools/{name}/queues/{queue_name}"): [item("GET", "/work_pools/{pool}/queues/{pool_queue}")],
    ("PATCH", "work_pools/{name}/queues/{queue_name}"): [
        item("PATCH", "/work_pools/{pool}/queues/{pool_queue}", {"is_paused": True})
    ],
    ("DELETE", "work_pools/{name}/queues/{queue_name}"): [item("DELETE", "/work_pools/{pool}/queues/{pool_queue}")],
    ("POST", "work_pools/{name}/queues"): [item("POST", "/work_pools/{pool}/queues", {"name": "xwsb-q"})],
    ("POST", "work_pools/{name}/queues/filter"): [item("POST", "/work_pools/{pool}/queues/filter", {})],
    ("POST", "work_pools/{name}/workers/filter"): [item("POST", "/work_pools/{pool}/workers/filter", {})],
    # saved searches and notification policies (the UI's records)
    ("PUT", "saved_searches/"): [same("PUT", "/saved_searches/", {"name": "{saved_search_name}", "filters": []})],
    ("POST", "saved_searches/filter"): [absent("POST", "/saved_searches/filter", {})],
    ("GET", "saved_searches/{id}"): [item("GET", "/saved_searches/{saved_search}")],
    ("DELETE", "saved_searches/{id}"): [item("DELETE", "/saved_searches/{saved_search}")],
    ("POST", "flow_run_notification_policies/"): [
        same(
            "POST",
            "/flow_run_notification_policies/",
            {"block_document_id": "{block_document}", "tags": [], "state_names": ["Failed"]},
        )
    ],
    ("POST", "flow_run_notification_policies/filter"): [absent("POST", "/flow_run_notification_policies/filter", {})],
    ("GET", "flow_run_notification_policies/{id}"): [item("GET", "/flow_run_notification_policies/{policy}")],
    ("PATCH", "flow_run_notification_policies/{id}"): [
        item("PATCH", "/flow_run_notification_policies/{policy}", {"is_active": False})
    ],
    ("DELETE", "flow_run_notification_policies/{id}"): [item("DELETE", "/flow_run_notification_policies/{policy}")],
    # flow runs and their operations
    ("POST", "flow_runs/bulk_delete"): [
        same("POST", "/flow_runs/bulk_delete", {"flow_runs": RUN_IDS}),
        zero("POST", "/flow_runs/bulk_delete", {"all": True}),
        zero("POST", "/flow_runs/bulk_delete", {"all": True, "dry_run": True}),
    ],
    ("POST", "flow_runs/bulk_set_state"): [
        same(
            "POST", "/flow_runs/bulk_set_state", {"flow_runs": RUN_IDS, "state": {"type": "CANCELLED"}, "force": True}
        ),
        zero("POST", "/flow_runs/bulk_set_state", {"all": True, "state": {"type": "CANCELLED"}, "force": True}),
    ],
    ("POST", "flow_runs/prune"): [same("POST", "/flow_runs/prune", {"older_than": "0d"})],
    ("POST", "flow_runs/stuck"): [
        absent("POST", "/flow_runs/stuck", {"dry_run": True}),
        same("POST", "/flow_runs/stuck", {"dry_run": False}),
    ],
    ("GET", "flow_runs/"): [absent("GET", "/flow_runs/")],
    ("POST", "flow_runs/"): [
        same("POST", "/flow_runs/", {"flow_id": "{flow}"}),
        same("POST", "/flow_runs/", {"flow_id": "{b_flow}", "deployment_id": "{deployment}"}, prepare=_b_flow),
        same("POST", "/flow_runs/", {"flow_id": "{b_flow}", "parent_task_run_id": "{task_run}"}, prepare=_b_flow),
    ],
    ("POST", "flow_runs/count"): [
        zero("POST", "/flow_runs/count", {}),
        same("POST", "/flow_runs/count", {"flow_runs": RUN_IDS}),
    ],
    ("POST", "flow_runs/filter"): [
        absent("POST", "/flow_runs/filter", {}),
        absent("POST", "/flow_runs/filter", {"flows": {"id": {"any_": ["{flow}"]}}}),
    ],
    ("POST", "flow_runs/history"): [zero("POST", "/flow_runs/history", HISTORY)],
    ("POST", "flow_runs/lateness"): [zero("POST", "/flow_runs/lateness", {})],
    ("GET", "flow_runs/{id}"): [item("GET", "/flow_runs/{flow_run}")],
    ("PATCH", "flow_runs/{id}"): [item("PATCH", "/flow_runs/{flow_run}", {"name": "xwsb"})],
    ("DELETE", "flow_runs/{id}"): [item("DELETE", "/flow_runs/{flow_run}")],
    ("GET", "flow_runs/{id}/graph"): [item("GET", "/flow_runs/{flow_run}/graph")],
    ("GET", "flow_runs/{id}/graph-v2"): [item("GET", "/flow_runs/{flow_run}/graph-v2")],
    ("POST", "flow_runs/{id}/resume"): [item("POST", "/flow_runs/{paused_run}/resume")],
    ("POST", "flow_runs/{id}/set_state"): [
        item("POST", "/flow_runs/{flow_run}/set_state", {"state": {"type": "CANCELLED"}, "force": True})
    ],
    ("POST", "flow_runs/{id}/input"): [
        item("POST", "/flow_runs/{flow_run}/input", {"key": "xwsb-input", "value": '"b"'})
    ],
    ("POST", "flow_runs/{id}/input/filter"): [same("POST", "/flow_runs/{flow_run}/input/filter", {"prefix": "xws"})],
    ("GET", "flow_runs/{id}/input/{key}"): [same("GET", "/flow_runs/{flow_run}/input/{input_key}")],
    ("DELETE", "flow_runs/{id}/input/{key}"): [same("DELETE", "/flow_runs/{flow_run}/input/{input_key}")],
    ("POST", "ui/flow_runs/history"): [absent("POST", "/ui/flow_runs/history", {})],
    # task runs
    ("GET", "task_runs/"): [absent("GET", "/task_runs/")],
    ("POST", "task_runs/"): [
        same("POST", "/task_runs/", {"flow_run_id": "{flow_run}", "task_key": "xwsb", "dynamic_key": "0"})
    ],
    ("POST", "task_runs/count"): [
        zero("POST", "/task_runs/count", {}),
        same("POST", "/task_runs/count", {"task_runs": {"id": {"any_": ["{task_run}"]}}}),
    ],
    ("POST", "task_runs/filter"): [
        absent("POST", "/task_runs/filter", {}),
        absent("POST", "/task_runs/filter", {"flow_runs": {"id": {"any_": ["{flow_run}"]}}}),
    ],
    ("POST", "task_runs/history"): [zero("POST", "/task_runs/history", HISTORY)],
    ("GET", "task_runs/{id}"): [item("GET", "/task_runs/{task_run}")],
    ("PATCH", "task_runs/{id}"): [item("PATCH", "/task_runs/{task_run}", {"name": "xwsb"})],
    ("DELETE", "task_runs/{id}"): [item("DELETE", "/task_runs/{task_run}")],
    ("POST", "task_runs/{id}/set_state"): [
        item("POST", "/task_runs/{task_run}/set_state", {"state": {"type": "FAILED"}, "force": True})
    ],
    ("POST", "ui/task_runs/count"): [zero("POST", "/ui/task_runs/count", {})],
    ("POST", "ui/task_runs/dashboard/counts"): [
        zero(
            "POST",
            "/ui/task_runs/dashboard/counts",
            {"task_runs": {"start_time": {"after_": HISTORY["history_start"]}}},
        )
    ],
    # states and logs
    ("GET", "flow_run_states/"): [same("GET", "/flow_run_states/?flow_run_id={flow_run}")],
    ("GET", "flow_run_states/{id}"): [item("GET", "/flow_run_states/{flow_run_state}")],
    ("GET", "task_run_states/"): [same("GET", "/task_run_states/?task_run_id={task_run}")],
    ("GET", "task_run_states/{id}"): [item("GET", "/task_run_states/{task_run_state}")],
    ("POST", "logs/"): [same("POST", "/logs/", [LOG])],
    ("POST", "logs/filter"): [
        absent("POST", "/logs/filter", {}),
        absent("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": ["{flow_run}"]}}}),
    ],
    # tag concurrency limits
    ("POST", "concurrency_limits/"): [same("POST", "/concurrency_limits/", {"tag": "{tag}", "concurrency_limit": 1})],
    ("GET", "concurrency_limits/tag/{tag}"): [item("GET", "/concurrency_limits/tag/{tag}")],
    ("DELETE", "concurrency_limits/tag/{tag}"): [item("DELETE", "/concurrency_limits/tag/{tag}")],
    ("POST", "concurrency_limits/filter"): [absent("POST", "/concurrency_limits/filter", {})],
    ("POST", "concurrency_limits/tag/{tag}/reset"): [item("POST", "/concurrency_limits/tag/{tag}/reset", {})],
    ("GET", "concurrency_limits/{id}"): [item("GET", "/concurrency_limits/{concurrency_limit}")],
    ("DELETE", "concurrency_limits/{id}"): [item("DELETE", "/concurrency_limits/{concurrency_limit}")],
    # global concurrency limits (v2)
    ("POST", "v2/concurrency_limits/"): [same("POST", "/v2/concurrency_limits/", {"name": "{gcl_name}", "limit": 1})],
    ("POST", "v2/concurrency_limits/increment"): [
        same("POST", "/v2/concurrency_limits/increment", {"names": ["{gcl_name}"], "slots": 1, "mode": "concurrency"})
    ],
    ("POST", "v2/concurrency_limits/decrement"): [
        same("POST", "/v2/concurrency_limits/decrement", {"names": ["{gcl_name}"], "slots": 1})
    ],
    ("POST", "v2/concurrency_limits/filter"): [absent("POST", "/v2/concurrency_limits/filter", {})],
    ("GET", "v2/concurrency_limits/{id_or_name}"): [
        item("GET", "/v2/concurrency_limits/{gcl}"),
        item("GET", "/v2/concurrency_limits/{gcl_name}"),
    ],
    ("PATCH", "v2/concurrency_limits/{id_or_name}"): [
        item("PATCH", "/v2/concurrency_limits/{gcl}", {"limit": 9}),
        item("PATCH", "/v2/concurrency_limits/{gcl_name}", {"limit": 9}),
    ],
    ("DELETE", "v2/concurrency_limits/{id_or_name}"): [
        item("DELETE", "/v2/concurrency_limits/{gcl}"),
        item("DELETE", "/v2/concurrency_limits/{gcl_name}"),
    ],
    # artifacts
    ("POST", "artifacts/"): [
        same("POST", "/artifacts/", {"key": "{artifact_key}", "data": "b", "flow_run_id": "{flow_run}"})
    ],
    ("POST", "artifacts/count"): [
        zero("POST", "/artifacts/count", {}),
        same("POST", "/artifacts/count", {"artifacts": {"key": {"any_": ["{artifact_key}"]}}}),
    ],
    ("POST", "artifacts/filter"): [absent("POST", "/artifacts/filter", {})],
    ("POST", "artifacts/latest/count"): [zero("POST", "/artifacts/latest/count", {})],
    ("POST", "artifacts/latest/filter"): [absent("POST", "/artifacts/latest/filter", {})],
    ("GET", "artifacts/{id}"): [item("GET", "/artifacts/{artifact}")],
    ("PATCH", "artifacts/{id}"): [item("PATCH", "/artifacts/{artifact}", {"data": "b"})],
    ("DELETE", "artifacts/{id}"): [item("DELETE", "/artifacts/{artifact}")],
    ("GET", "artifacts/{id}/latest"): [item("GET", "/artifacts/{artifact_key}/latest")],
    # block documents (secrets) and the shared catalogue's routes that touch them
    ("GET", "block_types/slug/{slug}/block_documents"): [
        absent("GET", "/block_types/slug/{shared_block_type_slug}/block_documents")
    ],
    ("GET", "block_types/slug/{slug}/block_documents/name/{block_document_name}"): [
        item("GET", "/block_types/slug/{shared_block_type_slug}/block_documents/name/{block_document_name}")
    ],
    # Deleting a shared catalogue entry must not take A's documents with it.
    ("DELETE", "block_types/{id}"): [same("DELETE", "/block_types/{shared_block_type}", compare=False)],
    ("DELETE", "block_schemas/{id}"): [same("DELETE", "/block_schemas/{shared_block_schema}", compare=False)],
    ("POST", "block_documents/"): [same("POST", "/block_documents/", DOCUMENT)],
    ("POST", "block_documents/count"): [zero("POST", "/block_documents/count", {})],
    ("POST", "block_documents/filter"): [absent("POST", "/block_documents/filter", {"include_secrets": True})],
    ("GET", "block_documents/{id}"): [item("GET", "/block_documents/{block_document}?include_secrets=true")],
    ("PATCH", "block_documents/{id}"): [
        item("PATCH", "/block_documents/{block_document}", {"data": {"value": "xwsb"}})
    ],
    ("DELETE", "block_documents/{id}"): [item("DELETE", "/block_documents/{block_document}")],
    # variables
    ("POST", "variables/"): [same("POST", "/variables/", {"name": "{variable_name}", "value": "xwsb"})],
    ("GET", "variables/name/{name}"): [item("GET", "/variables/name/{variable_name}")],
    ("PATCH", "variables/name/{name}"): [item("PATCH", "/variables/name/{variable_name}", {"value": "xwsb"})],
    ("DELETE", "variables/name/{name}"): [item("DELETE", "/variables/name/{variable_name}")],
    ("POST", "variables/count"): [zero("POST", "/variables/count", {})],
    ("POST", "variables/filter"): [absent("POST", "/variables/filter", {})],
    ("GET", "variables/{id}"): [item("GET", "/variables/{variable}")],
    ("PATCH", "variables/{id}"): [item("PATCH", "/variables/{variable}", {"value": "xwsb"})],
    ("DELETE", "variables/{id}"): [item("DELETE", "/variables/{variable}")],
    # events
    ("POST", "events"): [same("POST", "/events", [{**EVENT, "id": "{event}"}])],
    ("POST", "events/filter"): [
        absent("POST", "/events/filter", {}),
        absent("POST", "/events/filter", {"filter": {"resource": {"id": ["{event_resource}"]}}}),
        absent("POST", "/events/filter", {"filter": {"id": {"id": ["{event}"]}}}),
    ],
    # A's page token read through B: refused like a token that was never given.
    ("GET", "events/filter/next"): [same("GET", "/events/filter/next?page-token={event_page_token}", status=403)],
    ("POST", "events/count-by/{countable}"): [
        zero("POST", "/events/count-by/day", {"filter": {}}),
        absent("POST", "/events/count-by/event", {"filter": {}}),
        absent("POST", "/events/count-by/resource", {"filter": {"resource": {"id": ["{event_resource}"]}}}),
    ],
    # The event websockets: over plain HTTP both paths answer 404 whatever the workspace
    # holds; their streams keep workspaces apart in tests/events/test_websockets.py.
    ("GET", "events/in"): [same("GET", "/events/in", status=404, compare=False)],
    ("GET", "events/out"): [same("GET", "/events/out", status=404, compare=False)],
    # automations
    ("POST", "automations/"): [
        # A run-deployment action with job variables names a deployment that must exist.
        same("POST", "/automations/", {**AUTOMATION, "actions": [{**RUN_A_DEPLOYMENT, "job_variables": {"a": 1}}]}),
    ],
    ("GET", "automations/{id}"): [item("GET", "/automations/{automation}")],
    ("PUT", "automations/{id}"): [item("PUT", "/automations/{automation}", AUTOMATION)],
    ("PATCH", "automations/{id}"): [item("PATCH", "/automations/{automation}", {"enabled": False})],
    ("DELETE", "automations/{id}"): [item("DELETE", "/automations/{automation}")],
    ("POST", "automations/filter"): [
        absent("POST", "/automations/filter", {}),
        absent("POST", "/automations/filter", {"automations": {"name": {"any_": ["xwsa-automation"]}}}),
    ],
    ("POST", "automations/count"): [zero("POST", "/automations/count", {})],
    ("GET", "automations/related-to/{resource_id}"): [
        absent("GET", "/automations/related-to/prefect.deployment.{deployment}"),
        absent("GET", "/automations/related-to/{automation_owner}"),
    ],
    ("DELETE", "automations/owned-by/{resource_id}"): [same("DELETE", "/automations/owned-by/{automation_owner}")],
}
