"""History statements compiled once per request shape: requests of one shape at other
times (the dashboard's "now - N days") compile nothing again, run the same statements,
and each answer equals reading every run, for windows on, off and within a second of
the hour, through ``POST /flow_runs/history`` and ``POST /task_runs/history``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orion_project.models import DEFAULT_WORKSPACE_ID
from orion_project.prepared import StatementsByBody
from runs_app.rollup import compiled
from runs_app.rollup.writes import bucket_of
from runs_app.selectors.history import run_history
from runs_app.selectors.runs import task_runs_matching
from tests.runs.rollup_helpers import NO_FILTERS, assert_same, make_runs, scanned


def _compare(answer: list[dict[str, Any]], scan: list[dict[str, Any]]) -> None:
    """The HTTP answer equals the runs read (see :func:`assert_same`)."""
    read = [
        {**row, "interval_start": dt.datetime.fromisoformat(row["interval_start"]),
         "interval_end": dt.datetime.fromisoformat(row["interval_end"])}
        for row in answer
    ]  # fmt: skip
    assert_same(read, scan)


def _body(start: dt.datetime, end: dt.datetime, interval: dt.timedelta) -> dict[str, Any]:
    return {
        "history_start": start.isoformat(),
        "history_end": end.isoformat(),
        "history_interval_seconds": interval.total_seconds(),
    }


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the history statements compiled (one entry each)."""
    made: list[int] = []
    original = compiled.ShapeStatement.of

    def counted(queryset: Any) -> compiled.ShapeStatement:
        made.append(1)
        return original(queryset)

    monkeypatch.setattr(compiled.ShapeStatement, "of", counted)
    # Statements kept from earlier tests would not be compiled again here.
    monkeypatch.setattr(compiled, "_SHAPES", StatementsByBody(size=256))
    return made


@pytest.mark.django_db
def test_flow_run_history_of_one_shape_compiles_once_and_equals_reading_every_run(  # type: ignore[no-untyped-def]
    api, monkeypatch, compiles
) -> None:
    make_runs(api)
    hour = bucket_of(timezone.now())
    # The dashboard's request, "now - 3 days" to now by days, at moments off the hour, on
    # it and within a second of it; the later ones of each kind are of the first's shape.
    nows = [
        hour - dt.timedelta(minutes=23, seconds=4.25),
        hour - dt.timedelta(minutes=22, seconds=59.5),
        hour - dt.timedelta(minutes=11, seconds=0.1),
        hour - dt.timedelta(seconds=0.4),
        hour,
        hour + dt.timedelta(seconds=0.3),
        hour + dt.timedelta(minutes=1, seconds=0.7),
    ]
    interval = dt.timedelta(days=1)
    made: list[int] = []
    for now in nows:
        monkeypatch.setattr("django.utils.timezone.now", lambda now=now: now)
        start, end = now - dt.timedelta(days=3), now + dt.timedelta(hours=11)
        before = len(compiles)
        with CaptureQueriesContext(connection) as queries:
            answer = api.post("/flow_runs/history", _body(start, end, interval)).json()
        made.append(len(compiles) - before)
        _compare(answer, scanned(now, NO_FILTERS, start=start, end=end, interval=interval))
        reads = [query["sql"] for query in queries.captured_queries if "GROUP BY" in query["sql"]]
        # The rollup's hours, its minutes and the runs of the cut minutes: three at most.
        assert 1 <= len(reads) <= 3
    # The second request is the first one's shape at another time; in all, fewer
    # statements compiled than run (the window's ranges are counted in a shape).
    assert made[0] == 3 and made[1] == 0
    assert sum(made) < 2 * len(nows)


@pytest.mark.django_db
def test_task_run_history_of_one_shape_compiles_once_and_equals_reading_every_run(  # type: ignore[no-untyped-def]
    api, monkeypatch, compiles
) -> None:
    run_ids = make_runs(api)
    for index, run_id in enumerate(run_ids[:12]):
        task = api.post("/task_runs/", {"flow_run_id": run_id, "task_key": "t", "dynamic_key": str(index)}).json()
        for state_type in ("RUNNING", "COMPLETED" if index % 3 else "FAILED")[: 1 + index % 2]:
            api.post(f"/task_runs/{task['id']}/set_state", {"state": {"type": state_type}, "force": True})
    interval = dt.timedelta(hours=5)
    base = timezone.now()
    for position, offset in enumerate((0.0, 1.25, 61.5)):
        now = base + dt.timedelta(seconds=offset)
        monkeypatch.setattr("django.utils.timezone.now", lambda now=now: now)
        start, end = now - dt.timedelta(days=1), now + dt.timedelta(hours=1)
        before = len(compiles)
        answer = api.post("/task_runs/history", _body(start, end, interval)).json()
        assert len(compiles) == before + (0 if position else 1)
        runs = task_runs_matching(filters={}, workspace_id=DEFAULT_WORKSPACE_ID)
        _compare(answer, run_history(runs, start=start, end=end, interval=interval, now=now))
        assert sum(state["count_runs"] for row in answer for state in row["states"]) == 12
