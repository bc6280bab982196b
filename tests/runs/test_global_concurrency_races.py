"""Concurrent callers of ``/v2/concurrency_limits/increment`` and ``/decrement``.

Real transactions and one connection per thread: row locks on PostgreSQL, IMMEDIATE
transactions on SQLite. The limit is never oversold and never drops below zero.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from runs_app.models import GlobalConcurrencyLimit
from tests.helpers import THREADS, in_parallel, post

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_global_limit_is_never_oversold() -> None:
    post(Client(), "/v2/concurrency_limits/", {"name": "db", "limit": 3})
    results = in_parallel(lambda c: post(c, "/v2/concurrency_limits/increment", {"names": ["db"], "slots": 1}))
    codes = sorted(code for code, _ in results)
    assert codes == [200] * 3 + [423] * (THREADS - 3)
    stored = GlobalConcurrencyLimit.objects.get(name="db")
    assert (stored.active_slots, stored.denied_slots) == (3, THREADS - 3)
    connection.close()


def test_concurrent_releases_stop_at_zero() -> None:
    post(Client(), "/v2/concurrency_limits/", {"name": "db", "limit": 5, "active_slots": 2})
    body: dict[str, Any] = {"names": ["db"], "slots": 1, "occupancy_seconds": 1.0}
    results = in_parallel(lambda c: post(c, "/v2/concurrency_limits/decrement", body))
    assert all(code == 200 for code, _ in results)
    assert GlobalConcurrencyLimit.objects.get(name="db").active_slots == 0
    connection.close()


def test_concurrent_first_use_of_a_name_creates_one_limit() -> None:
    results = in_parallel(lambda c: post(c, "/v2/concurrency_limits/increment", {"names": ["fresh"], "slots": 1}))
    assert all(code == 200 for code, _ in results)
    assert len({body[0]["id"] for _, body in results}) == 1
    assert GlobalConcurrencyLimit.objects.filter(name="fresh").count() == 1
    connection.close()


def test_increments_and_decrements_interleaved_keep_the_count_in_bounds() -> None:
    post(Client(), "/v2/concurrency_limits/", {"name": "mixed", "limit": 2})
    observed: list[int] = []

    def cycle(c: Client) -> Any:
        outcomes = []
        for _ in range(5):
            code, _ = post(c, "/v2/concurrency_limits/increment", {"names": ["mixed"], "slots": 1})
            outcomes.append(code)
            observed.append(GlobalConcurrencyLimit.objects.get(name="mixed").active_slots)
            if code == 200:
                post(c, "/v2/concurrency_limits/decrement", {"names": ["mixed"], "slots": 1})
        return outcomes

    results = in_parallel(cycle)
    assert any(200 in outcomes for outcomes in results)
    assert all(0 <= slots <= 2 for slots in observed)
    assert GlobalConcurrencyLimit.objects.get(name="mixed").active_slots == 0
    connection.close()
