"""Every route of the API, asked through workspace B about workspace A's records.

The route list is not written here: it is read from the URL configuration
(``orion_project.api.urls``, the router's patterns with each viewset's method map, and
the plain paths). :data:`TABLE` declares, for every ``(method, route)``, either the
probes that prove the route keeps workspaces apart, or why the route holds no workspace
data (:data:`NOT_WORKSPACE_DATA`). A route the table does not know fails
:func:`test_every_route_is_declared`, so a new route cannot be added without saying how
it is scoped.

A probe is one request through ``/api/workspaces/b/...`` (with B's credentials) that
names A's records (ids, names, keys, tags, created through ``/api/workspaces/a/...`` the
way a client creates them). Three kinds:

- ``same``: the answer must be the answer to the same request naming records that do not
  exist (same status, same body once the names are masked). Item routes additionally
  must answer 404. This is "an id of another workspace behaves exactly like an unknown
  id", for reads, writes and ids inside bodies alike.
- ``absent``: a list, filter or history; a 2xx answer that mentions none of A's records.
- ``zero``: a count, history or dashboard number; a 2xx answer whose numbers are all 0.

Every probe that can write (any method but GET, other than the filter/count/history
routes) is also checked by re-reading A's records through A before and after: they must
be unchanged, whatever B was answered (after a refusal, the records the probe named;
after a write carried out, all of them). Each probe runs in a savepoint that is rolled back, so one probe's damage
never hides another's; all failures are collected and listed together.

``ORION_XWS_AUTH=api-key`` runs the probes with ``ORION_AUTH=api-key`` and an admin key
of each workspace (``manage.py orion_api_key create NAME --workspace SLUG --role admin``);
the default is ``none``.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import URLPattern

from orion_project import urls as project_urls
from orion_project.api import urls as api_urls
from orion_project.models import Workspace

A, B = "xws-a", "xws-b"
# Every name A's records carry contains this, so an answer that mentions one is a leak.
MARKER = "xwsa"
AUTH = os.environ.get("ORION_XWS_AUTH", "none")
READ_ACTIONS = re.compile(r"(^|/)(filter|count|history|lateness|counts)$")

# ----------------------------------------------------------------------------- routes


def _route_text(regex: str) -> str:
    """``^flows/(?P<id>[^/]+)$`` → ``flows/{id}`` (named groups may nest parentheses)."""
    text = regex.lstrip("^").rstrip("$")
    out, index = [], 0
    while index < len(text):
        if text.startswith("(?P<", index):
            name_end = text.index(">", index)
            name = text[index + 4 : name_end]
            depth, index = 1, name_end + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(text[index], 0)
                index += 1
            out.append("{" + name + "}")
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def api_patterns() -> Iterator[tuple[str, Any]]:
    """``(route, pattern)`` of every path under ``/api/`` (so under ``/api/workspaces/<slug>/``
    too): the API's URL configuration, and the project's own ``api/...`` paths."""
    for pattern in api_urls.urlpatterns:
        yield _route_text(str(pattern.pattern)), pattern
    for pattern in project_urls.urlpatterns:
        route = str(pattern.pattern)
        if route.startswith("api/") and isinstance(pattern, URLPattern):
            yield _route_text(route).removeprefix("api/"), pattern


def api_operations() -> set[tuple[str, str]]:
    """Every ``(METHOD, route)`` the API serves, from the URL configuration."""
    operations: set[tuple[str, str]] = set()
    for route, pattern in api_patterns():
        view = pattern.callback
        actions = getattr(view, "actions", None)
        if actions is not None:
            methods = set(actions)
        else:
            cls = getattr(view, "cls", None)  # None: a plain Django view, which answers GET
            methods = {"get"} if cls is None else {m for m in cls.http_method_names if hasattr(cls, m)}
        # HEAD is GET without the body (DRF adds it to a viewset's map on first use), OPTIONS
        # describes the route: neither reads or writes more than the route's GET.
        operations |= {(method.upper(), route) for method in methods - {"head", "options"}}
    return operations


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
}

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


# ----------------------------------------------------------------------------- tests


def test_every_route_is_declared() -> None:
    """Each (method, route) of the URL configuration is probed or declared server-level;
    the table names no route that no longer exists."""
    served = api_operations()
    declared = set(TABLE) | set(NOT_WORKSPACE_DATA)
    undeclared = sorted(served - declared)
    stale = sorted(declared - served)
    both = sorted(set(TABLE) & set(NOT_WORKSPACE_DATA))
    assert not undeclared, (
        f"{len(undeclared)} route(s) without a cross-workspace declaration (add probes to TABLE, or a "
        f"reason to NOT_WORKSPACE_DATA): {undeclared}"
    )
    assert not stale, f"declared but not served: {stale}"
    assert not both, f"both probed and declared server-level: {both}"
    assert all(TABLE.values()), [route for route, probes in TABLE.items() if not probes]


@pytest.fixture
def callers(db: None, client: Client, settings: Any) -> tuple[Caller, Caller]:
    """Workspaces A and B, and a caller for each (with its admin key under api-key)."""
    keys: dict[str, str | None] = {A: None, B: None}
    for slug in (A, B):
        Workspace.objects.create(slug=slug, name=slug)
    if AUTH == "api-key":
        settings.ORION_AUTH = "api-key"
        for slug in (A, B):
            out = io.StringIO()
            call_command("orion_api_key", "create", f"{slug}-admin", "--workspace", slug, "--role", "admin", stdout=out)
            keys[slug] = out.getvalue().strip().splitlines()[-1]
    return Caller(client, A, keys[A]), Caller(client, B, keys[B])


def test_workspace_b_cannot_see_or_change_workspace_a(callers: tuple[Caller, Caller], capsys: Any) -> None:
    """Every probe of :data:`TABLE`; the failures of all of them, listed together."""
    a, b = callers
    started = time.monotonic()
    refs = build_world(a)
    before = snapshot(a, refs)
    assert snapshot(a, refs) == before, "reading A's records twice gave two answers: add the field to VOLATILE"
    failures: list[str] = []
    probes = 0
    for route, route_probes in sorted(TABLE.items(), key=lambda item: (item[0][1], item[0][0])):
        for probe in route_probes:
            probes += 1
            failures += run_probe(route, probe, a, b, refs, before)
    leaking = sorted({line.split(": ", 1)[0] for line in failures})
    summary = (
        f"cross-workspace: {len(TABLE)} (method, route) pairs probed with {probes} probes, "
        f"{len(NOT_WORKSPACE_DATA)} declared not workspace data, auth={AUTH}, "
        f"{time.monotonic() - started:.1f}s"
    )
    with capsys.disabled():  # the size of the proof, in every run's output
        print(f"\n{summary}")
    assert not failures, (
        f"{summary}\n{len(leaking)} route(s) do not keep workspace A's records from workspace B:\n  "
        + "\n  ".join(leaking)
        + "\ndetails:\n  "
        + "\n  ".join(failures)
    )
