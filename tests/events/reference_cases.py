"""The requests the events API is compared on with the live 2.20 reference: a fixed set
of events (:data:`EVENTS`, sent through ``POST /events``) and requests over them
(:data:`CASES`). ``reference_answers.json`` holds the reference's answers to them, taken
with ``python -m tests.events.capture_reference http://127.0.0.1:<port>/api`` against
``prefect server start`` (2.20.27, ``PREFECT_EXPERIMENTAL_EVENTS=true``) on an empty
``PREFECT_HOME``; ``test_events_reference.py`` asserts this server answers the same."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ANSWERS = Path(__file__).with_name("reference_answers.json")

SINCE = "2026-11-20T00:00:00+00:00"
UNTIL = "2026-11-27T00:00:00+00:00"
WINDOW = {"occurred": {"since": SINCE, "until": UNTIL}}


def _id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def _event(
    number: int, name: str, resource: dict[str, str], occurred: str, related: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "occurred": occurred,
        "event": name,
        "resource": resource,
        "related": related,
        "payload": {"n": number},
        "id": _id(number),
    }


FLOW = {"prefect.resource.id": "prefect.flow.f1", "prefect.resource.role": "flow", "prefect.resource.name": "etl"}
FLOW2 = {"prefect.resource.id": "prefect.flow.f2", "prefect.resource.role": "flow", "prefect.resource.name": "report"}
TAG = {"prefect.resource.id": "prefect.tag.nightly", "prefect.resource.role": "tag"}
DEPLOYMENT = {"prefect.resource.id": "prefect.deployment.d1", "prefect.resource.role": "deployment", "env": "prod"}


def _run(number: int, name: str = "r1") -> dict[str, str]:
    return {
        "prefect.resource.id": f"prefect.flow-run.{name}",
        "prefect.resource.name": f"run-{name}",
        "number": str(number),
    }


EVENTS: list[dict[str, Any]] = [
    _event(1, "prefect.flow-run.Pending", _run(1), "2026-11-20T08:00:00+00:00", [FLOW, TAG]),
    _event(2, "prefect.flow-run.Running", _run(2), "2026-11-20T08:00:05.250000+00:00", [FLOW, TAG]),
    _event(3, "prefect.flow-run.Completed", _run(3), "2026-11-20T08:10:00+00:00", [FLOW, TAG, DEPLOYMENT]),
    _event(4, "prefect.flow-run.Pending", _run(4, "r2"), "2026-11-21T23:59:59.999999+00:00", [FLOW2]),
    _event(5, "prefect.flow-run.Failed", _run(5, "r2"), "2026-11-22T00:00:00+00:00", [FLOW2, DEPLOYMENT]),
    _event(
        6, "prefect.work-queue.ready", {"prefect.resource.id": "prefect.work-queue.q1"}, "2026-11-23T12:00:00+02:00", []
    ),
    _event(
        7,
        "custom.thing.happened",
        {"prefect.resource.id": "acme.widget.7", "color": "blue"},
        "2026-11-24T06:30:00+00:00",
        [],
    ),
    _event(
        8,
        "custom.thing.happened",
        {"prefect.resource.id": "acme.widget.8", "color": "red"},
        "2026-11-24T06:31:00+00:00",
        [TAG],
    ),
    _event(
        9,
        "custom.other",
        {"prefect.resource.id": "acme.widget.7", "prefect.resource.name": "seven"},
        "2026-11-25T10:00:00+00:00",
        [],
    ),
    _event(10, "prefect.flow-run.Running", _run(10, "r3"), "2026-11-26T23:00:00+00:00", [FLOW]),
    # Outside the window the cases ask for.
    _event(11, "prefect.flow-run.Pending", _run(11, "r4"), "2026-11-10T00:00:00+00:00", [FLOW]),
]


def filter_case(filter_: dict[str, Any], limit: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"filter": {**WINDOW, **filter_}}
    if limit is not None:
        body["limit"] = limit
    return {"method": "POST", "path": "/events/filter", "body": body}


def count_case(countable: str, filter_: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": f"/events/count-by/{countable}",
        "body": {"filter": {**WINDOW, **(filter_ or {})}, **options},
    }


CASES: dict[str, dict[str, Any]] = {
    "all": filter_case({}),
    "ascending": filter_case({"order": "ASC"}),
    "limit_3": filter_case({}, limit=3),
    "name": filter_case({"event": {"name": ["custom.thing.happened"]}}),
    "name_prefix": filter_case({"event": {"prefix": ["prefect.flow-run."]}}),
    "exclude_prefix": filter_case({"event": {"exclude_prefix": ["prefect."]}}),
    "exclude_name": filter_case({"event": {"prefix": ["prefect."], "exclude_name": ["prefect.flow-run.Pending"]}}),
    "resource_id": filter_case({"resource": {"id": ["acme.widget.7"]}}),
    "resource_id_prefix": filter_case({"resource": {"id_prefix": ["prefect.flow-run.r"]}}),
    "resource_labels": filter_case({"resource": {"labels": {"color": "blue"}}}),
    "resource_labels_negated": filter_case({"resource": {"labels": {"color": "!blue"}}}),
    "resource_labels_wildcard": filter_case({"resource": {"labels": {"prefect.resource.id": "acme.*"}}}),
    "resource_labels_negated_wildcard": filter_case({"resource": {"labels": {"prefect.resource.id": "!prefect.*"}}}),
    "resource_distinct": filter_case({"resource": {"distinct": True}}),
    "related_id": filter_case({"related": {"id": ["prefect.flow.f1"]}}),
    "related_role": filter_case({"related": {"role": ["deployment"]}}),
    "related_resources_in_roles": filter_case({"related": {"resources_in_roles": [["prefect.tag.nightly", "tag"]]}}),
    "related_labels": filter_case({"related": {"labels": {"env": "prod"}}}),
    "related_labels_role": filter_case(
        {"related": {"labels": {"prefect.resource.role": "flow", "prefect.resource.name": "report"}}}
    ),
    "related_primary_id": filter_case({"related": {"id": ["acme.widget.7"]}}),
    "any_resource_id": filter_case({"any_resource": {"id": ["prefect.tag.nightly"]}}),
    "any_resource_prefix": filter_case({"any_resource": {"id_prefix": ["acme."]}}),
    "any_resource_labels": filter_case({"any_resource": {"labels": {"prefect.resource.name": "report"}}}),
    "event_ids": filter_case({"id": {"id": [_id(3), _id(7), _id(11)]}}),
    "combined": filter_case(
        {"event": {"prefix": ["prefect.flow-run."]}, "related": {"id": ["prefect.flow.f1"]}, "order": "ASC"}
    ),
    "count_day": count_case("day"),
    "count_time_hour_6": count_case("time", time_unit="hour", time_interval=6),
    "count_time_week": count_case("time", time_unit="week"),
    "count_event": count_case("event"),
    "count_resource": count_case("resource"),
    "count_event_filtered": count_case("event", {"event": {"prefix": ["prefect."]}}),
    # Bad input.
    "filter_limit_too_large": {"method": "POST", "path": "/events/filter", "body": {"limit": 51}},
    "filter_limit_negative": {"method": "POST", "path": "/events/filter", "body": {"limit": -1}},
    "filter_extra_key": filter_case({"bogus": 1}),
    "filter_bad_order": filter_case({"order": "SIDEWAYS"}),
    "filter_bad_since": {
        "method": "POST",
        "path": "/events/filter",
        "body": {"filter": {"occurred": {"since": "nope"}}},
    },
    "count_bad_countable": count_case("month"),
    "count_bad_unit": count_case("time", time_unit="year"),
    "count_small_interval": count_case("time", time_unit="second", time_interval=0.001),
    "count_too_many_buckets": count_case("time", time_unit="minute", time_interval=1),
    "count_no_filter": {"method": "POST", "path": "/events/count-by/day", "body": {}},
    "next_bad_token": {"method": "GET", "path": "/events/filter/next?page-token=bm9wZQ==", "body": None},
    "next_no_token": {"method": "GET", "path": "/events/filter/next", "body": None},
}


OUTSIDE = "2026-11-01T00:00:00+00:00"  # sent events the cases above must not see


def _posted(number: int, **changes: Any) -> dict[str, Any]:
    event = {
        "occurred": OUTSIDE,
        "event": "posted.case",
        "resource": {"prefect.resource.id": f"posted.{number}"},
        "id": _id(1000 + number),
    }
    return {**event, **changes}


def post_case(*events: Any) -> dict[str, Any]:
    return {"method": "POST", "path": "/events", "body": list(events)}


CASES.update(
    {
        "post_not_a_list": {"method": "POST", "path": "/events", "body": {"event": "a"}},
        "post_item_not_an_object": post_case(5),
        "post_missing_fields": post_case({"occurred": OUTSIDE, "id": _id(1000)}),
        "post_missing_resource_id": post_case(_posted(1, resource={"x": "y"})),
        "post_empty_resource_id": post_case(_posted(2, resource={"prefect.resource.id": ""})),
        "post_resource_not_an_object": post_case(_posted(3, resource="r")),
        "post_label_not_text": post_case(_posted(4, resource={"prefect.resource.id": "r", "n": [1]})),
        "post_related_without_role": post_case(_posted(5, related=[{"prefect.resource.id": "x"}])),
        "post_related_empty_role": post_case(
            _posted(6, related=[{"prefect.resource.id": "x", "prefect.resource.role": ""}])
        ),
        "post_related_not_a_list": post_case(_posted(7, related={"a": "b"})),
        "post_bad_occurred": post_case(_posted(8, occurred="yesterday")),
        "post_epoch_occurred": post_case(_posted(9, occurred=1700000000)),
        "post_bad_id": post_case(_posted(10, id="nope")),
        "post_bad_follows": post_case(_posted(11, follows="nope")),
        "post_name_not_text": post_case(_posted(12, event=["a"])),
        "post_null_name": post_case(_posted(13, event=None)),
        "post_payload_not_an_object": post_case(_posted(14, payload=[1])),
        "post_too_many_labels": post_case(
            _posted(15, resource={"prefect.resource.id": "r", **{f"l{i}": "v" for i in range(500)}})
        ),
        "post_too_many_related": post_case(
            _posted(16, related=[{"prefect.resource.id": f"x{i}", "prefect.resource.role": "r"} for i in range(501)])
        ),
        "post_second_item_invalid": post_case(_posted(17), _posted(18, resource={})),
        "post_numbers_as_text": post_case(_posted(19, event=5, resource={"prefect.resource.id": "r", "n": 5})),
        "post_extra_key": post_case(_posted(20, bogus=1)),
        "post_empty": post_case(),
        "post_oversized_dropped": post_case(_posted(21, payload={"x": "a" * 1_600_000}), _posted(22)),
        "posted_found": filter_case(
            {"occurred": {"since": OUTSIDE, "until": OUTSIDE}, "event": {"name": ["posted.case", "5"]}}
        ),
    }
)


def comparable(answer: Any) -> Any:
    """An answer without what differs between two servers by design: when each received
    the events, the request body echoed in a 422, and the page token in ``next_page``."""
    if isinstance(answer, dict):
        return {
            key: (comparable(value) if key != "next_page" or value is None else "<next>")
            for key, value in answer.items()
            if key not in ("received", "request_body")
        }
    if isinstance(answer, list):
        return [comparable(item) for item in answer]
    return answer


def walk(send: Callable[[str, Any], tuple[int, Any]], base: str) -> list[dict[str, Any]]:
    """Every page of the window's events three at a time, ascending, following
    ``next_page``: each page's ids and total."""
    status, page = send("/events/filter", {"filter": {**WINDOW, "order": "ASC"}, "limit": 3})
    pages = []
    while True:
        assert status == 200, page
        pages.append({"ids": [event["id"] for event in page["events"]], "total": page["total"]})
        if page["next_page"] is None:
            return pages
        path = page["next_page"].split("/api", 1)[1]
        status, page = send(path, None)


def load_answers() -> dict[str, Any]:
    return json.loads(ANSWERS.read_text())  # type: ignore[no-any-return]
