"""The migration that gave keys a workspace and a role: every existing key lands in
``default`` with the role its scope stood for."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("access_app", "0002_memberships")]
AFTER = [("access_app", "0003_keys_per_workspace_and_audit")]


@pytest.mark.django_db(transaction=True)
def test_scopes_become_roles_of_default() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("access_app", "ApiKey")
    for scope in ("read", "write", "admin"):
        old.objects.create(name=f"k-{scope}", prefix="orion_x", key_hash=(scope * 64)[:64], scope=scope)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("access_app", "ApiKey")
    rows = sorted(new.objects.values_list("name", "workspace_id", "role"))
    assert rows == [("k-admin", 1, "admin"), ("k-read", 1, "viewer"), ("k-write", 1, "developer")]
    # Back to the latest state for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
