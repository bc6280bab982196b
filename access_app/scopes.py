"""Which scope each API request needs: the one definition of a read route.

A read is a GET (or HEAD/OPTIONS), or a POST to a route that only queries: the
``.../filter``, ``.../count``, ``.../history`` and ``/flow_runs/lateness`` routes (the
Orion API sends query bodies by POST). Everything under ``/api/admin/`` needs ``admin``;
every other request needs ``write``.
"""

from __future__ import annotations

import re

from access_app.models import Scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_POST_ROUTE = re.compile(r"^/api/.+/(filter|count|counts|history|lateness)$")
ADMIN_PREFIX = "/api/admin/"
# Answered without a key: liveness and version probes, and the API's own description
# (the Swagger page at /docs loads it).
OPEN_PATHS = frozenset({"/api/health", "/api/ready", "/api/version", "/api/openapi.json", "/api/docs"})
# Routes that destroy every row: 403 unless DJANGO_DEBUG is on or the key has the admin scope.
DESTRUCTIVE_PATHS = frozenset({"/api/admin/database/clear", "/api/admin/database/drop"})


def required_scope(method: str, path: str) -> Scope:
    """The least scope that may send ``method`` to ``path`` (an ``/api/...`` path)."""
    if path.startswith(ADMIN_PREFIX):
        return Scope.ADMIN
    if method in SAFE_METHODS or (method == "POST" and READ_POST_ROUTE.match(path)):
        return Scope.READ
    return Scope.WRITE
