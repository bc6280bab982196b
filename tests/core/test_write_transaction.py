"""``orion_project.db.write_transaction``: a state write's transaction lets PostgreSQL
plan its statements once, and the connection's per-execution planning of the filter
reads is left as it was, after a commit and after a rollback."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from orion_project.db import write_transaction
from tests.helpers import ApiClient

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan_cache_mode"),
    # The test's own transaction would already be begun: the setting is only made by the
    # outermost one.
    pytest.mark.django_db(transaction=True),
]


def plan_mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('plan_cache_mode')")
        return str(cursor.fetchone()[0])


def test_the_writes_are_planned_once_and_the_connection_keeps_its_setting() -> None:
    with write_transaction():
        assert plan_mode() == "auto"
    assert plan_mode() == "force_custom_plan"


def test_a_rolled_back_write_leaves_the_connection_as_it_was() -> None:
    with pytest.raises(ZeroDivisionError), write_transaction():
        assert plan_mode() == "auto"
        1 / 0  # noqa: B018
    assert plan_mode() == "force_custom_plan"
    with write_transaction():
        assert plan_mode() == "auto"


def test_inside_a_begun_transaction_the_setting_is_not_changed() -> None:
    with transaction.atomic():
        assert plan_mode() == "force_custom_plan"
        with write_transaction():
            assert plan_mode() == "force_custom_plan"


def test_a_state_change_writes_under_the_writes_setting(api: ApiClient) -> None:
    flow_id = api.post("/flows/", {"name": "planned"}).json()["id"]
    run_id = api.post("/flow_runs/", {"flow_id": flow_id}).json()["id"]
    seen: list[str] = []

    def note_setting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("WITH "):  # the state write
            seen.append(connection.connection.execute("SELECT current_setting('plan_cache_mode')").fetchone()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note_setting):
        answer = api.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": "RUNNING"}})
    assert answer.json()["status"] == "ACCEPT"
    assert seen == ["auto"]
    assert plan_mode() == "force_custom_plan"
