"""Which role each API request needs: the one definition of who may send what.

Roles include each other (``viewer < runner < developer < admin``, see
``access_app.models.ROLE_RANK``). For an ``/api`` request (its path already without the
``/workspaces/<slug>`` prefix: ``orion_project.workspaces`` rewrote it) the least role is:

``viewer``
    Reads: ``GET``/``HEAD``/``OPTIONS``, and the routes that only query but take their
    body by POST (:data:`QUERY_POST_ROUTE`: ``.../filter``, ``/count``, ``/history``,
    ``/lateness``, ``/validate``, ``/events/count-by/...``).
``runner``
    Exactly the writes a flow process, an agent and a worker send (:data:`RUNNER_WRITES`).
    The list comes from the requests both stock clients (2.7.12 and 2.20) send in the
    reference client trace (``CLIENT-TRACE.md``: the union table and the ordered calls of
    S1-S9, flow runs, agents and workers) and in the compatibility scenarios
    (``tests/compat/scenarios``: the 2.20 artifacts, variables, global concurrency and
    pause-for-input ones), minus what those scenarios do as set-up rather than as a
    running flow (creating and deleting limits, queues, pools, deployments, variables;
    deleting runs). A runner never deletes anything and never changes deployments,
    schedules, pools, queues, limits, keys or settings; it may create a flow run from a
    deployment, as ``run_deployment`` in a flow does.
``developer``
    Every other Orion route (:data:`DEVELOPER_WRITES`): deletes, deployments and their
    schedules, pools and queues, limits, variables, blocks, saved searches, bulk actions,
    automations.
``admin``
    Also the workspace's administration, ``/api/admin/*`` (:data:`ADMIN_PREFIX`).

Every route of the router has its role here; ``tests/access/test_roles.py`` enumerates the
URL configuration and fails for a route none of these rules names, so a new route cannot
fall through to a role silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from access_app.models import Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api"
ADMIN_PREFIX = "/api/admin/"
# Served under /experimental/work_pools/... as well; such a request needs what its
# un-prefixed twin needs.
EXPERIMENTAL_PREFIX = "/api/experimental/"
# POST routes that only read: the Orion API sends query bodies by POST.
QUERY_POST_ROUTE = re.compile(
    r"^/api/(?:(?:.+/)?(filter|count|counts|history|lateness|validate)|events/count-by/[^/]+)$"
)
# Answered without credentials: liveness and version probes, and the API's own description
# (the Swagger page at /docs loads it).
OPEN_PATHS = frozenset({"/api/health", "/api/ready", "/api/version", "/api/openapi.json", "/api/docs"})
# Websockets whose handshake (a GET) opens a stream of writes: the 2.20 client's events,
# sent by flow processes as their other writes are.
RUNNER_SOCKETS = frozenset({"/api/events/in"})
# Routes that destroy every row of the workspace: 403 unless DJANGO_DEBUG is on or an
# admin sends them.
DESTRUCTIVE_PATHS = frozenset({"/api/admin/database/clear", "/api/admin/database/drop"})

# (method, path template under /api): what the stock clients send while running flows.
RUNNER_WRITES: tuple[tuple[str, str], ...] = (
    # A flow process: register the flow, create and move its runs, log, report.
    ("POST", "/flows/"),
    ("POST", "/flow_runs/"),
    ("PATCH", "/flow_runs/{id}"),  # the agent's infrastructure_pid, the engine's flow_version
    ("POST", "/flow_runs/{id}/set_state"),
    ("POST", "/flow_runs/{id}/resume"),  # 2.20 resume_flow_run
    ("POST", "/flow_runs/{id}/input"),  # 2.20 pause_flow_run(wait_for_input=), send_input
    ("POST", "/task_runs/"),
    ("POST", "/task_runs/{id}/set_state"),
    ("POST", "/logs/"),
    ("POST", "/artifacts/"),
    # 2.7 saves its result storage as an anonymous block before every flow run, registering
    # the block type and schema on the way (GET -> 404 -> POST; PATCH of the type).
    ("POST", "/block_types/"),
    ("PATCH", "/block_types/{id}"),
    ("POST", "/block_schemas/"),
    ("POST", "/block_documents/"),
    # run_deployment from a flow; the scenarios' "run this deployment now".
    ("POST", "/deployments/{id}/create_flow_run"),
    # Agents, workers and flow.serve poll for work; each poll records "last polled".
    ("POST", "/work_queues/{id}/get_runs"),
    ("POST", "/work_pools/{name}/get_scheduled_flow_runs"),
    ("POST", "/work_pools/{name}/workers/heartbeat"),
    ("POST", "/deployments/get_scheduled_flow_runs"),
    # 2.20 concurrency() and rate_limit(): take and give back global-limit slots.
    ("POST", "/v2/concurrency_limits/increment"),
    ("POST", "/v2/concurrency_limits/decrement"),
    # The 2.20 client's events (its HTTP fallback; the websocket is /events/in).
    ("POST", "/events"),
)

# Every other write of the router: developer.
DEVELOPER_WRITES: tuple[tuple[str, str], ...] = (
    ("PATCH", "/flows/{id}"),
    ("DELETE", "/flows/{id}"),
    ("POST", "/deployments/"),
    ("PATCH", "/deployments/{id}"),
    ("DELETE", "/deployments/{id}"),
    ("POST", "/deployments/{id}/pause_deployment"),
    ("POST", "/deployments/{id}/resume_deployment"),
    ("POST", "/deployments/{id}/schedule"),
    ("POST", "/deployments/{id}/schedules"),
    ("POST", "/deployments/{id}/set_schedule_active"),
    ("POST", "/deployments/{id}/set_schedule_inactive"),
    ("PATCH", "/deployments/{id}/schedules/{schedule_id}"),
    ("DELETE", "/deployments/{id}/schedules/{schedule_id}"),
    ("POST", "/work_queues/"),
    ("PATCH", "/work_queues/{id}"),
    ("DELETE", "/work_queues/{id}"),
    ("PUT", "/saved_searches/"),
    ("DELETE", "/saved_searches/{id}"),
    ("POST", "/flow_run_notification_policies/"),
    ("PATCH", "/flow_run_notification_policies/{id}"),
    ("DELETE", "/flow_run_notification_policies/{id}"),
    ("POST", "/work_pools/"),
    ("PATCH", "/work_pools/{name}"),
    ("DELETE", "/work_pools/{name}"),
    ("DELETE", "/work_pools/{name}/workers/{worker_name}"),
    ("PATCH", "/work_pools/{name}/queues/{queue_name}"),
    ("DELETE", "/work_pools/{name}/queues/{queue_name}"),
    ("POST", "/work_pools/{name}/queues"),
    ("POST", "/flow_runs/bulk_delete"),
    ("POST", "/flow_runs/bulk_set_state"),
    ("POST", "/flow_runs/prune"),
    ("POST", "/flow_runs/stuck"),
    ("DELETE", "/flow_runs/{id}"),
    ("PATCH", "/task_runs/{id}"),
    ("DELETE", "/task_runs/{id}"),
    ("POST", "/concurrency_limits/"),
    ("DELETE", "/concurrency_limits/tag/{tag}"),
    ("POST", "/concurrency_limits/tag/{tag}/reset"),
    ("DELETE", "/concurrency_limits/{id}"),
    ("POST", "/v2/concurrency_limits/"),
    ("PATCH", "/v2/concurrency_limits/{id_or_name}"),
    ("DELETE", "/v2/concurrency_limits/{id_or_name}"),
    ("PATCH", "/artifacts/{id}"),
    ("DELETE", "/artifacts/{id}"),
    ("DELETE", "/flow_runs/{id}/input/{key}"),
    ("POST", "/block_types/install_system_block_types"),
    ("DELETE", "/block_types/{id}"),
    ("DELETE", "/block_schemas/{id}"),
    ("PATCH", "/block_documents/{id}"),
    ("DELETE", "/block_documents/{id}"),
    ("POST", "/variables/"),
    ("PATCH", "/variables/name/{name}"),
    ("DELETE", "/variables/name/{name}"),
    ("PATCH", "/variables/{id}"),
    ("DELETE", "/variables/{id}"),
    ("POST", "/automations/"),
    ("PUT", "/automations/{id}"),
    ("PATCH", "/automations/{id}"),
    ("DELETE", "/automations/{id}"),
    ("DELETE", "/automations/owned-by/{resource_id}"),
)

_PARAMETER = re.compile(r"\{[a-z_]+\}")


def _compile(template: str) -> re.Pattern[str]:
    """``/flows/{id}`` → a pattern of the concrete ``/api/flows/<anything but />`` paths."""
    parts = _PARAMETER.split(template)
    return re.compile("^" + API_PREFIX + "[^/]+".join(re.escape(part) for part in parts) + "$")


Rule = tuple[re.Pattern[str], str, Role]


def _index(rules: Iterable[tuple[str, str, Role]]) -> dict[tuple[str, str], list[Rule]]:
    """The write rules by (method, first path segment), so a request tries a handful."""
    index: dict[tuple[str, str], list[Rule]] = {}
    for method, template, role in rules:
        key = (method, _first_segment(API_PREFIX + template))
        index.setdefault(key, []).append((_compile(template), template, role))
    return index


def _first_segment(path: str) -> str:
    return path[len(API_PREFIX) + 1 :].partition("/")[0]


_WRITES = _index(
    [(method, template, Role.RUNNER) for method, template in RUNNER_WRITES]
    + [(method, template, Role.DEVELOPER) for method, template in DEVELOPER_WRITES]
)


def _twin(path: str) -> str:
    """``/api/experimental/work_pools/...`` → ``/api/work_pools/...``; others unchanged."""
    if path.startswith(EXPERIMENTAL_PREFIX):
        return API_PREFIX + "/" + path[len(EXPERIMENTAL_PREFIX) :]
    return path


def is_read(method: str, path: str) -> bool:
    """Whether the request only reads: a safe method, or a query sent by POST."""
    return method in SAFE_METHODS or (method == "POST" and QUERY_POST_ROUTE.match(_twin(path)) is not None)


def _write_rule(method: str, path: str) -> tuple[str, Role] | None:
    twin = _twin(path)
    for pattern, template, role in _WRITES.get((method, _first_segment(twin)), ()):
        if pattern.match(twin):
            return (template if twin is path else "/experimental" + template), role
    return None


def defined_role(method: str, path: str) -> Role | None:
    """The role a rule above gives ``method`` on ``path`` (an ``/api/...`` path), or
    ``None`` when no rule names it."""
    if path.startswith(ADMIN_PREFIX):
        return Role.ADMIN
    if path in RUNNER_SOCKETS:
        return Role.RUNNER
    if is_read(method, path):
        return Role.VIEWER
    rule = _write_rule(method, path)
    return None if rule is None else rule[1]


def write_template(method: str, path: str) -> str:
    """The route template of a write (``/flow_runs/{id}/set_state``), what the audit
    trail records instead of the path with its ids; the path itself when no rule names it."""
    rule = _write_rule(method, path)
    return rule[0] if rule is not None else path[len(API_PREFIX) :]


def required_role(method: str, path: str) -> Role:
    """The least role that may send ``method`` to ``path``. A write no rule names (no
    route of the router: it will answer 404 or 405) needs ``developer``."""
    return defined_role(method, path) or Role.DEVELOPER
