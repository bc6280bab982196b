"""The API calls of the stock Prefect 2.20 dashboard's pages, replayed as one page load.

Recorded in Chromium (the browser suite's setup) against the 2.20 server, opening each
page fresh: the calls of one page come in waves (a wave is sent once the answers it
depends on arrived), at most ``BROWSER_CONNECTIONS`` at a time, as a browser sends them
to one host. The page's "now" is the browser's clock to the second (``.000Z``), so a
window such as the last 24 hours or 7 days starts and ends at an arbitrary second,
never on the hour. Calls the UI repeats while a page stays open (the run page polls its
run and graph) are left out: a page load is what the user waits for.

Each page is a generator: it yields a wave (a list of ``(method, path, body)``) and is
sent back the wave's decoded answers, from which later waves take their ids (the flows
with failed runs, the rows on screen). ``bench.load`` runs them (``page_load``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from typing import Any

BROWSER_CONNECTIONS = 6
ROWS_ON_SCREEN = 3  # list rows whose own calls a page makes before the user scrolls
FAILED_FLOW_CARDS = 6  # flows of the dashboard's "failed runs" card, each with two calls

Call = tuple[str, str, Any]
Page = Generator[list[Call], list[Any], None]

FINISHED_OR_RUNNING = ["COMPLETED", "FAILED", "CRASHED", "RUNNING"]
DASHBOARD_STATE_GROUPS = (
    ["CANCELLED"],
    ["FAILED", "CRASHED"],
    ["RUNNING", "PENDING", "CANCELLING"],
    ["COMPLETED"],
    ["SCHEDULED", "PAUSED"],
)
TASK_STATE_GROUPS = (FINISHED_OR_RUNNING, ["COMPLETED"], ["FAILED", "CRASHED"], ["RUNNING"])


def stamp(moment: dt.datetime) -> str:
    """The dashboard's way of writing a moment: to the second, in milliseconds, ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def window(now: dt.datetime, days: int) -> dict[str, str]:
    return {"before_": stamp(now), "after_": stamp(now - dt.timedelta(days=days))}


def _task_cards(now: dt.datetime, scope: dict[str, Any]) -> list[Call]:
    """The task-run counts and history the dashboard and a flow's page show for a day."""
    day = window(now, 1)
    counts = [
        (
            "POST",
            "/task_runs/count",
            {
                **scope,
                "task_runs": {
                    "state": {"type": {"any_": group}},
                    "start_time": day,
                    "subflow_runs": {"exists_": False},
                },
            },
        )
        for group in TASK_STATE_GROUPS
    ]
    history = {
        "history_start": day["after_"],
        "history_end": day["before_"],
        "history_interval_seconds": 4320,
        **(scope or {"flow_runs": {}}),
        "task_runs": {"start_time": day},
    }
    return [*counts, ("POST", "/task_runs/history", history)]


def _task_count_of(run_id: str) -> Call:
    body = {"flow_runs": {"id": {"any_": [run_id]}}, "task_runs": {"subflow_runs": {"exists_": False}}}
    return ("POST", "/task_runs/count", body)


def dashboard(now: dt.datetime) -> Page:
    """``/dashboard``: the last 24 hours."""
    day = {"expected_start_time": window(now, 1)}
    failed = {**day, "state": {"type": {"any_": ["FAILED", "CRASHED"]}}}
    yield [("GET", "/health", None)]
    yield [("POST", "/flow_runs/count", {}), ("POST", "/flow_runs/filter", {})]
    yield [
        ("POST", "/flow_runs/count", {"flow_runs": day}),
        ("POST", "/flow_runs/filter", {"flow_runs": day, "sort": "START_TIME_DESC", "limit": 0}),
        *[
            (
                "POST",
                "/flow_runs/count",
                {"flow_runs": {"state": {"type": {"any_": group}}, **day}, "sort": "EXPECTED_START_TIME_DESC"},
            )
            for group in DASHBOARD_STATE_GROUPS
        ],
        ("POST", "/flows/count", {"flow_runs": failed, "sort": "UPDATED_DESC"}),
        *_task_cards(now, {}),
        ("POST", "/work_pools/filter", {}),
    ]
    (flows,) = yield [
        ("POST", "/flows/filter", {"flow_runs": failed, "sort": "UPDATED_DESC", "limit": 200, "offset": 0})
    ]
    cards: list[Call] = []
    for flow in flows[:FAILED_FLOW_CARDS]:
        scope = {"flows": {"id": {"any_": [flow["id"]]}}, "flow_runs": failed}
        cards += [
            ("POST", "/flow_runs/filter", {**scope, "sort": "EXPECTED_START_TIME_DESC", "limit": 1}),
            ("POST", "/flow_runs/count", {**scope, "sort": "EXPECTED_START_TIME_DESC"}),
        ]
    if cards:
        yield cards
    yield [("POST", "/flow_runs/filter", {"flow_runs": day, "sort": "START_TIME_DESC", "limit": 44})]


def flow_runs(now: dt.datetime) -> Page:
    """``/flow-runs``: the last 7 days, its scatter plot and its list."""
    week = {"expected_start_time": window(now, 7)}
    yield [("GET", "/health", None)]
    answers = yield [
        ("POST", "/flow_runs/count", {}),
        ("POST", "/ui/flow_runs/history", {"flow_runs": week, "sort": "START_TIME_DESC"}),
        ("POST", "/flow_runs/filter", {"flow_runs": week, "sort": "START_TIME_DESC"}),
        ("POST", "/saved_searches/filter", {}),
    ]
    yield [("POST", "/work_pools/filter", {}), ("POST", "/flow_runs/filter", {})]
    rows = answers[2][:ROWS_ON_SCREEN]
    flow_ids = sorted({row["flow_id"] for row in rows})
    if rows:
        yield [
            *[_task_count_of(row["id"]) for row in rows],
            *[("GET", f"/flows/{flow_id}", None) for flow_id in flow_ids],
        ]


def flow(now: dt.datetime, flow_id: str) -> Page:
    """``/flows/flow/<id>``: the flow's last 24 hours and its runs."""
    scope = {"flows": {"id": {"any_": [flow_id]}}}
    day = {"expected_start_time": window(now, 1)}
    yield [("GET", "/health", None)]
    yield [("GET", f"/flows/{flow_id}", None)]
    yield [("POST", "/flow_runs/count", {**scope, "sort": "START_TIME_DESC"})]
    answers = yield [
        ("POST", "/flow_runs/count", {**scope, "flow_runs": day}),
        ("POST", "/flow_runs/filter", {**scope, "flow_runs": day, "sort": "START_TIME_DESC", "limit": 0}),
        *_task_cards(now, scope),
        ("POST", "/flow_runs/filter", {**scope, "sort": "START_TIME_DESC", "limit": 200, "offset": 0}),
    ]
    rows = answers[-1][:ROWS_ON_SCREEN]
    if rows:
        yield [_task_count_of(row["id"]) for row in rows]
    yield [("POST", "/flow_runs/filter", {**scope, "flow_runs": day, "sort": "START_TIME_DESC", "limit": 44})]


def flow_run(now: dt.datetime, run_id: str) -> Page:
    """``/flow-runs/flow-run/<id>``: the run, its task-run counts, logs and graph."""
    runs = {"flow_runs": {"id": {"any_": [run_id]}}}
    yield [("GET", "/health", None)]
    (run,) = yield [("GET", f"/flow_runs/{run_id}", None)]
    logs = {"logs": {"level": {"ge_": 0}, "flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "offset": 0}
    yield [
        _task_count_of(run_id),
        ("POST", "/task_runs/count", runs),
        ("GET", f"/flows/{run['flow_id']}", None),
        ("POST", "/logs/filter", {**logs, "limit": 200}),
    ]
    yield [("GET", f"/flow_runs/{run_id}/graph-v2", None)]
