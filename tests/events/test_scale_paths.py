"""The events reads' fast paths give the answers reading every matching event gives.

Totals and count-by take the whole hours of a window from ``EventHourCount``; pages of a
filter decided by related or any-resource ids walk the resource index. Each answer here
is compared, through HTTP, with the same request answered with both paths turned off
(the events read row by row), on windows on and off the hour, for every countable, with
filters the hourly counts can answer and filters they cannot. The hourly counts
themselves are compared with counting the events after writes, duplicates and retention.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import timezone

from events_app import selectors
from events_app.models import Event, EventHourCount, EventResource
from events_app.schema import iso
from events_app.selectors import counts
from events_app.services.hour_counts import event_hour_counts_rebuild, hour_of
from events_app.services.record import event_resources_fill_primary
from events_app.services.retention import events_prune
from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from tests.helpers import ApiClient

NAMES = ("prefect.flow-run.Running", "prefect.flow-run.Completed", "prefect.task-run.Running", "acme.order.placed")
BASE = hour_of(dt.datetime.now(dt.UTC)) - dt.timedelta(hours=50)


def _sent(index: int, occurred: dt.datetime) -> dict[str, Any]:
    related = [{"prefect.resource.id": f"prefect.flow.{index % 3}", "prefect.resource.role": "flow"}]
    if index % 4 == 0:
        # Named twice: as a flow and as a deployment (one event, two matching resource rows).
        related.append({"prefect.resource.id": f"prefect.flow.{index % 3}", "prefect.resource.role": "deployment"})
    if index % 5 == 0:
        related.append({"prefect.resource.id": "prefect.tag.t", "prefect.resource.role": "tag"})
    return {
        "occurred": occurred.isoformat(),
        "event": NAMES[index % len(NAMES)],
        "resource": {"prefect.resource.id": f"prefect.flow-run.{index % 7}", "prefect.resource.name": f"run-{index}"},
        "related": related,
        "id": str(uuid.uuid4()),
    }


def _events() -> list[dict[str, Any]]:
    """Events over two days: every 37 minutes and a few seconds, and some exactly on the hour."""
    spread = [BASE + dt.timedelta(minutes=37 * index, seconds=index % 11) for index in range(80)]
    on_the_hour = [BASE + dt.timedelta(hours=hours) for hours in (0, 1, 5, 24, 30, 31)]
    return [_sent(index, occurred) for index, occurred in enumerate(spread + on_the_hour)]


@pytest.fixture
def seeded(api: ApiClient) -> list[dict[str, Any]]:
    sent = _events()
    assert api.post("/events", sent).status_code == 204
    # Another workspace's events count nowhere here.
    Workspace.objects.create(slug="other", name="other")
    assert api.post("/workspaces/other/events", _events()).status_code == 204
    return sent


def _iso(offset: dt.timedelta) -> str:
    return (BASE + offset).isoformat()


HOUR, MINUTE, MICRO = dt.timedelta(hours=1), dt.timedelta(minutes=1), dt.timedelta(microseconds=1)
WINDOWS = {
    "on the hour, until a whole hour's end": (HOUR, 25 * HOUR - MICRO),
    "on the hour, until the next hour's first instant": (0 * HOUR, 24 * HOUR),
    "off the hour at both ends": (10 * MINUTE, 30 * HOUR + 5 * MINUTE),
    "within one hour": (5 * HOUR + 3 * MINUTE, 5 * HOUR + 50 * MINUTE),
    "over two hours, no whole one": (5 * HOUR + 30 * MINUTE, 6 * HOUR + 30 * MINUTE),
    "the whole span": (-HOUR, 60 * HOUR),
}
ANSWERED_BY_HOURS: dict[str, dict[str, Any]] = {
    "no filter": {},
    "name prefix": {"event": {"prefix": ["prefect.flow-run."]}},
    "exact names": {"event": {"name": ["acme.order.placed", "prefect.task-run.Running"]}},
    "excluded prefix and name": {
        "event": {"exclude_prefix": ["prefect.task-run."], "exclude_name": ["acme.order.placed"]}
    },
    "not distinct": {"resource": {"distinct": False}},
}
READ_FROM_EVENTS: dict[str, dict[str, Any]] = {
    "resource id": {"resource": {"id": ["prefect.flow-run.3"]}},
    "related id": {"related": {"id": ["prefect.flow.1"]}},
    "related ids, one event naming both": {"related": {"id": ["prefect.flow.1", "prefect.tag.t"]}},
    "related role": {"related": {"role": ["deployment"]}},
    "any resource id": {"any_resource": {"id": ["prefect.flow.2"]}},
    "any resource id prefix": {"any_resource": {"id_prefix": ["prefect.flow-run."]}},
    "related id and a name": {"related": {"id": ["prefect.flow.1"]}, "event": {"prefix": ["prefect.flow-run."]}},
    "labels": {"resource": {"labels": {"prefect.resource.name": ["run-1*"]}}},
}
COUNTS = [
    ("day", {}),
    ("time", {"time_unit": "hour", "time_interval": 1}),
    ("time", {"time_unit": "hour", "time_interval": 2}),
    ("time", {"time_unit": "hour", "time_interval": 1.5}),
    ("time", {"time_unit": "minute", "time_interval": 30}),
    ("time", {"time_unit": "day", "time_interval": 0.5}),
    ("event", {}),
    ("resource", {}),
]


def _answers(api: ApiClient, filters: dict[str, Any]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for countable, extra in COUNTS:
        response = api.post(f"/events/count-by/{countable}", {"filter": filters, **extra})
        assert response.status_code == 200, response.content
        answers[f"{countable} {extra}"] = response.json()
    for order in ("DESC", "ASC"):
        answers[f"pages {order}"] = _walk(api, {**filters, "order": order})
    return answers


def _walk(api: ApiClient, filters: dict[str, Any]) -> list[Any]:
    """Every page of the filter, 7 events a page: each page's total and ids."""
    page = api.post("/events/filter", {"filter": filters, "limit": 7}).json()
    pages = []
    while True:
        pages.append((page["total"], [event["id"] for event in page["events"]]))
        if not page["next_page"]:
            return pages
        page = api.get(page["next_page"].removeprefix("http://testserver/api")).json()


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("shape", [*ANSWERED_BY_HOURS, *READ_FROM_EVENTS])
def test_fast_answers_equal_reading_the_events(
    api: ApiClient, seeded: list[dict[str, Any]], window: str, shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    since, until = WINDOWS[window]
    filters = {**ANSWERED_BY_HOURS.get(shape, {}), **READ_FROM_EVENTS.get(shape, {})}
    filters["occurred"] = {"since": _iso(since), "until": _iso(until)}
    fast = _answers(api, filters)
    for module in (selectors, counts):
        monkeypatch.setattr(module, "_by_hours", lambda filters, workspace_id: None)
        monkeypatch.setattr(module, "_by_resources", lambda filters, workspace_id: None)
    assert fast == _answers(api, filters)


def test_a_total_is_the_whole_hours_sum_and_the_partial_hours_count_in_one_statement(
    api: ApiClient, seeded: list[dict[str, Any]], django_assert_num_queries: Any
) -> None:
    since, until = BASE + 10 * MINUTE, BASE + 30 * HOUR
    body = {"filter": {"occurred": {"since": since.isoformat(), "until": until.isoformat()}}}
    # The total, then the page.
    with django_assert_num_queries(2):
        total = api.post("/events/filter", body).json()["total"]
    assert total == sum(1 for event in seeded if since <= dt.datetime.fromisoformat(event["occurred"]) <= until)


def _stored_counts() -> dict[tuple[int, dt.datetime, str], int]:
    return {(row.workspace_id, row.hour, row.event): row.count for row in EventHourCount.objects.all()}


def _rebuilt_counts() -> dict[tuple[int, dt.datetime, str], int]:
    kept = _stored_counts()
    event_hour_counts_rebuild()
    rebuilt = _stored_counts()
    assert kept == rebuilt
    return rebuilt


def test_hour_counts_equal_counting_the_events_after_writes_and_redeliveries(
    api: ApiClient, seeded: list[dict[str, Any]]
) -> None:
    # A redelivered batch (same ids) adds nothing; a new batch adds to the same hours.
    assert api.post("/events", seeded[:20]).status_code == 204
    assert api.post("/events", [{**event, "id": str(uuid.uuid4())} for event in seeded[:20]]).status_code == 204
    counts = _rebuilt_counts()
    assert (
        sum(count for (workspace, _, _), count in counts.items() if workspace == DEFAULT_WORKSPACE_ID)
        == len(seeded) + 20
    )


@pytest.mark.parametrize("batch_size", [1, 7, 5000])
def test_retention_keeps_the_hour_counts_exact(api: ApiClient, seeded: list[dict[str, Any]], batch_size: int) -> None:
    # Cut in the middle of an hour: that hour keeps the count of its younger events.
    before = BASE + 20 * HOUR + 17 * MINUTE
    deleted = events_prune(before=before, workspace_id=DEFAULT_WORKSPACE_ID, batch_size=batch_size)
    assert deleted == sum(1 for event in seeded if dt.datetime.fromisoformat(event["occurred"]) < before)
    counts = _rebuilt_counts()
    assert all(count > 0 for count in counts.values())
    assert min(hour for workspace, hour, _ in counts if workspace == DEFAULT_WORKSPACE_ID) == BASE + 20 * HOUR


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/events/filter", "/events/count-by/event"])
def test_a_window_at_the_calendars_ends_is_counted_not_refused(api: ApiClient, path: str) -> None:
    """The whole hours of a window ending at the calendar's last microsecond have no next
    hour to count to: the cut hour is read from the events, never a 500."""
    edges = ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999999+00:00")
    sent = [
        {
            "id": str(uuid.uuid4()),
            "occurred": occurred,
            "event": "edge.of.time",
            "resource": {"prefect.resource.id": "r"},
        }
        for occurred in ("0001-01-01T00:30:00+00:00", "9999-12-31T23:30:00+00:00")
    ]
    assert api.post("/events", sent).status_code == 204
    # Count-by refuses a window of more than 1,000 buckets (as the reference): only the last hours there.
    windows = [("9999-12-31T22:00:00+00:00", edges[1])]
    if path == "/events/filter":
        windows.append(edges)
    for since, until in windows:
        answer = api.post(path, {"filter": {"occurred": {"since": since, "until": until}}, "time_unit": "hour"})
        assert answer.status_code == 200, answer.content
        counted = answer.json()["total"] if path == "/events/filter" else sum(row["count"] for row in answer.json())
        assert counted == (2 if since == edges[0] else 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("now", "since", "until", "occurred"),
    [
        # A clock in the calendar's last day: the day (and week) bucket would end past it.
        ("9999-12-31T23:45:00", "9999-12-31T22:00:00", "9999-12-31T23:59:59.999999", "9999-12-31T23:30:00"),
        # Buckets counted from the pivot would start before the calendar's first day.
        (None, "0001-01-01T00:00:00", "0001-01-05T00:00:00", "0001-01-01T00:30:00"),
    ],
)
@pytest.mark.parametrize(
    "body",
    [
        {"countable": "day"},
        {"countable": "time", "time_unit": "day"},
        {"countable": "time", "time_unit": "week", "time_interval": 3},
        {"countable": "time", "time_unit": "hour", "time_interval": 7},
    ],
)
def test_time_buckets_at_the_calendars_ends_are_cut_there(
    api: ApiClient,
    monkeypatch: pytest.MonkeyPatch,
    now: str | None,
    since: str,
    until: str,
    occurred: str,
    body: dict[str, Any],
) -> None:
    """A bucket that would start before the calendar's first instant or end after its
    last one is cut there (never a 500, never the event left uncounted)."""
    sent = {
        "id": str(uuid.uuid4()),
        "occurred": f"{occurred}+00:00",
        "event": "e",
        "resource": {"prefect.resource.id": "r"},
    }
    assert api.post("/events", [sent]).status_code == 204
    if now is not None:
        monkeypatch.setattr(timezone, "now", lambda: dt.datetime.fromisoformat(now).replace(tzinfo=dt.UTC))
    countable, extra = body["countable"], {key: value for key, value in body.items() if key != "countable"}
    window = {"since": f"{since}+00:00", "until": f"{until}+00:00"}
    answer = api.post(f"/events/count-by/{countable}", {"filter": {"occurred": window}, **extra})
    assert answer.status_code == 200, answer.content
    buckets = answer.json()
    assert sum(bucket["count"] for bucket in buckets) == 1
    (holding,) = [bucket for bucket in buckets if bucket["count"]]
    assert holding["start_time"] <= f"{occurred}+00:00" <= holding["end_time"]
    assert buckets[0]["start_time"] >= "0001-01-01T00:00:00+00:00"
    assert buckets[-1]["end_time"] <= "9999-12-31T23:59:59.999999+00:00"


def test_the_backfill_writes_each_events_primary_resource_on_its_resource_rows(
    api: ApiClient, seeded: list[dict[str, Any]]
) -> None:
    written = sorted(EventResource.objects.values_list("seq", "primary_id", "primary_name"))
    assert {name for _, _, name in written} >= {"run-0", "run-1"}
    EventResource.objects.update(primary_id="", primary_name=None)
    seqs = list(Event.objects.order_by("seq").values_list("seq", flat=True))
    # Two ranges, as the migration fills them.
    middle = seqs[len(seqs) // 2]
    filled = event_resources_fill_primary(seqs[0], middle) + event_resources_fill_primary(middle + 1, seqs[-1])
    assert filled == len(written)
    assert sorted(EventResource.objects.values_list("seq", "primary_id", "primary_name")) == written


# --------------------------------------------------------------- counts by resource

# Labels of equal counts sort by code point (upper case before lower, accents after),
# whatever the database's collation.
LABELS = ("Zeta", "alpha", "Älpha", "éclair", "zeta", "b", "B")
WEST = dt.timezone(-dt.timedelta(hours=7, minutes=30))


def _by_resource_events() -> list[dict[str, Any]]:
    """Events whose times have microseconds, whole seconds and whole milliseconds, sent
    in another offset; primary resources named one way, two ways (the latest name is the
    label; of two given last at the same time, the first), by ``prefect.name`` or not at
    all; some naming a flow twice."""
    sent = []
    for index in range(60):
        occurred = BASE + dt.timedelta(minutes=41 * index, microseconds=(0, 500000, 123456, 7)[index % 4])
        run = index % 9
        resource = {"prefect.resource.id": f"prefect.flow-run.{run}"}
        if run < len(LABELS):
            resource["prefect.resource.name"] = LABELS[run]
        if run == 1 and index > 30:
            resource["prefect.resource.name"] = "renamed"
        if run == 7:
            resource["prefect.name"] = "by prefect.name"
        related = [{"prefect.resource.id": f"prefect.flow.{index % 2}", "prefect.resource.role": "flow"}]
        if index % 3 == 0:
            related.append({"prefect.resource.id": f"prefect.flow.{index % 2}", "prefect.resource.role": "deployment"})
        sent.append(
            {
                "occurred": occurred.astimezone(WEST).isoformat(),
                "event": NAMES[index % len(NAMES)],
                "resource": resource,
                "related": related,
                "id": str(uuid.uuid4()),
            }
        )
    # Two names given at the same last instant: the first of them labels the resource
    # (the other one, given once more before, has more events).
    for name, hours in (("tie-b", 19), ("tie-b", 20), ("tie-a", 20)):
        sent.append(
            {
                "occurred": (BASE + dt.timedelta(hours=hours, microseconds=250)).isoformat(),
                "event": "acme.order.placed",
                "resource": {"prefect.resource.id": "prefect.flow-run.tied", "prefect.resource.name": name},
                "related": [{"prefect.resource.id": "prefect.flow.0", "prefect.resource.role": "flow"}],
                "id": str(uuid.uuid4()),
            }
        )
    return sent


def _expected_by_resource(sent: list[dict[str, Any]], since: dt.datetime, until: dt.datetime, keep: Any) -> list[Any]:
    """The count by primary resource of the events ``keep`` takes, counted here in Python."""
    groups: dict[str, list[Any]] = {}
    for event in sent:
        occurred = dt.datetime.fromisoformat(event["occurred"]).astimezone(dt.UTC)
        if not since <= occurred <= until or not keep(event):
            continue
        resource = event["resource"]
        value = resource["prefect.resource.id"]
        name = resource.get("prefect.resource.name") or resource.get("prefect.name") or value
        group = groups.setdefault(value, [name, 0, occurred, occurred])
        if occurred > group[3] or (occurred == group[3] and name < group[0]):
            group[0], group[3] = name, occurred
        group[1] += 1
        group[2] = min(group[2], occurred)
    rows = [
        {"value": value, "label": label, "count": count, "start_time": iso(oldest), "end_time": iso(latest)}
        for value, (label, count, oldest, latest) in groups.items()
    ]
    return sorted(rows, key=lambda row: (-row["count"], row["label"], row["value"]))


def _names(event: dict[str, Any], *ids: str) -> bool:
    return any(item["prefect.resource.id"] in ids for item in event["related"])


BY_RESOURCE: dict[str, tuple[dict[str, Any], Any]] = {
    # Read from the resource rows alone.
    "related id": ({"related": {"id": ["prefect.flow.1"]}}, lambda event: _names(event, "prefect.flow.1")),
    "related ids": (
        {"related": {"id": ["prefect.flow.0", "prefect.flow.1"]}},
        lambda event: _names(event, "prefect.flow.0", "prefect.flow.1"),
    ),
    "related role": ({"related": {"role": ["deployment"]}}, lambda event: len(event["related"]) > 1),
    "any resource id": (
        {"any_resource": {"id": ["prefect.flow-run.1", "prefect.flow.0"]}},
        lambda event: (
            event["resource"]["prefect.resource.id"] == "prefect.flow-run.1" or _names(event, "prefect.flow.0")
        ),
    ),
    # Read from the events.
    "no filter": ({}, lambda event: True),
    "a name": ({"event": {"name": ["acme.order.placed"]}}, lambda event: event["event"] == "acme.order.placed"),
}


@pytest.mark.parametrize("shape", list(BY_RESOURCE))
@pytest.mark.parametrize("window", ["the whole span", "off the hour at both ends"])
def test_counts_by_resource_equal_counting_the_events_sent(
    api: ApiClient, shape: str, window: str, django_assert_num_queries: Any
) -> None:
    """Each path's answer, compared with counting the events sent (not with another path):
    the counts, the labels, the times as the API writes them, and the order."""
    sent = _by_resource_events()
    assert api.post("/events", sent).status_code == 204
    filters, keep = BY_RESOURCE[shape]
    since, until = (BASE + offset for offset in WINDOWS[window])
    window_body = {"since": since.astimezone(WEST).isoformat(), "until": until.isoformat()}
    with django_assert_num_queries(1):
        answer = api.post("/events/count-by/resource", {"filter": {**filters, "occurred": window_body}})
    assert answer.status_code == 200, answer.content
    expected = _expected_by_resource(sent, since, until, keep)
    assert answer.json() == expected
    assert expected
    if shape == "no filter":
        assert {row["label"] for row in expected} >= {"renamed", "by prefect.name", "prefect.flow-run.8", "tie-a"}
        assert {row["end_time"][19:] for row in expected} >= {"+00:00", ".500000+00:00", ".000250+00:00"}
