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
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern

from orion_project import urls as project_urls
from orion_project.api import urls as api_urls
from orion_project.models import Workspace
from tests.api.cross_workspace_probes import AUTH, NOT_WORKSPACE_DATA, TABLE, A, B
from tests.api.cross_workspace_world import Caller, build_world, run_probe, snapshot

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
