"""Concurrent writers: no lost transition, no duplicate run, no oversold slot.

These tests use real transactions and one database connection per thread, on SQLite
(IMMEDIATE transactions queue the writers) and on PostgreSQL (row locks).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from runs_app.models import ConcurrencyLimit, FlowRun, FlowRunState
from tests.factories import FlowFactory
from tests.helpers import THREADS, in_parallel, post

pytestmark = pytest.mark.django_db(transaction=True)


def test_only_one_of_many_concurrent_running_proposals_wins() -> None:
    flow = FlowFactory()
    client = Client()
    _, run = post(client, "/flow_runs/", {"flow_id": str(flow.id)})
    results = in_parallel(lambda c: post(c, f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}}))
    verdicts = sorted(body["status"] for _, body in results)
    assert verdicts == ["ABORT"] * (THREADS - 1) + ["ACCEPT"]
    stored = FlowRun.objects.get(pk=run["id"])
    assert (stored.state_type, stored.run_count) == ("RUNNING", 1)
    assert FlowRunState.objects.filter(flow_run_id=run["id"]).count() == 2
    connection.close()


def test_concurrent_forced_reruns_lose_no_increment() -> None:
    flow = FlowFactory()
    _, run = post(Client(), "/flow_runs/", {"flow_id": str(flow.id), "state": {"type": "RUNNING"}})
    body = {"state": {"type": "RUNNING"}, "force": True}
    results = in_parallel(lambda c: post(c, f"/flow_runs/{run['id']}/set_state", body))
    assert all(body["status"] == "ACCEPT" for _, body in results)
    assert FlowRun.objects.get(pk=run["id"]).run_count == 1 + THREADS
    connection.close()


def test_concurrent_idempotent_creation_makes_one_run() -> None:
    flow = FlowFactory()
    body = {"flow_id": str(flow.id), "idempotency_key": "same"}
    results = in_parallel(lambda c: post(c, "/flow_runs/", body))
    assert sorted(code for code, _ in results) == [200] * (THREADS - 1) + [201]
    assert len({run["id"] for _, run in results}) == 1
    assert FlowRun.objects.filter(flow=flow).count() == 1
    connection.close()


def test_concurrent_flow_creation_by_name_makes_one_flow() -> None:
    results = in_parallel(lambda c: post(c, "/flows/", {"name": "racing"}))
    assert sorted(code for code, _ in results) == [200] * (THREADS - 1) + [201]
    assert len({flow["id"] for _, flow in results}) == 1
    connection.close()


def test_a_tag_slot_is_never_oversold() -> None:
    client = Client()
    flow = FlowFactory()
    post(client, "/concurrency_limits/", {"tag": "db", "concurrency_limit": 2})
    _, flow_run = post(client, "/flow_runs/", {"flow_id": str(flow.id), "state": {"type": "RUNNING"}})
    task_ids = [
        post(
            client,
            "/task_runs/",
            {"flow_run_id": flow_run["id"], "task_key": f"t{i}", "dynamic_key": "0", "tags": ["db"]},
        )[1]["id"]
        for i in range(THREADS)
    ]
    lock = threading.Lock()
    remaining = list(task_ids)

    def take(c: Client) -> Any:
        with lock:
            task_id = remaining.pop()
        return post(c, f"/task_runs/{task_id}/set_state", {"state": {"type": "RUNNING"}})

    results = in_parallel(take)
    verdicts = sorted(body["status"] for _, body in results)
    assert verdicts == ["ACCEPT"] * 2 + ["WAIT"] * (THREADS - 2)
    assert len(ConcurrencyLimit.objects.get(tag="db").active_slots) == 2
    connection.close()
