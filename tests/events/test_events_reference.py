"""The events API answers as the live 2.20 reference does: the same events, counts and
errors for every request of :mod:`tests.events.reference_cases` (its module docstring
says how the reference's answers were taken)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.events.reference_cases import CASES, EVENTS, comparable, load_answers, walk
from tests.helpers import ApiClient

ANSWERS = load_answers()

# Where this server answers otherwise, on purpose.
DIVERGENCES: dict[str, str] = {
    # The reference on SQLite looks a dotted label up as a JSON path (``$.prefect.resource.name``)
    # and so never finds one; on PostgreSQL it finds it, as this server does on both.
    "any_resource_labels": "events 5 and 4 (a related flow named report)",
    "related_labels_role": "events 5 and 4 (a related flow named report)",
    # The reference on SQLite rounds a timestamp to the millisecond before bucketing it, so
    # event 4 (23:59:59.999999 on the 21st) counts on the 22nd; on PostgreSQL, and here, on the 21st.
    "count_day": "event 4 in bucket 1, not 2",
    "count_time_hour_6": "event 4 in bucket 7, not 8",
}
MOVED = {"count_day": ("1", "2"), "count_time_hour_6": ("7", "8")}


def _expected(name: str) -> dict[str, Any]:
    answer = copy.deepcopy(ANSWERS[name])
    if name in ("any_resource_labels", "related_labels_role"):
        all_events = ANSWERS["all"]["body"]["events"]
        matching = [event for event in all_events if event["id"].endswith(("000000000005", "000000000004"))]
        answer["body"] = {"events": matching, "total": len(matching), "next_page": None}
    if name in MOVED:
        into, out_of = MOVED[name]
        for bucket in answer["body"]:
            bucket["count"] += {into: 1, out_of: -1}.get(bucket["value"], 0)
    return answer


@pytest.fixture
def recorded(api: ApiClient) -> ApiClient:
    assert api.post("/events", EVENTS).status_code == 204
    return api


def _answer(api: ApiClient, name: str) -> dict[str, Any]:
    case = CASES[name]
    response = api.get(case["path"]) if case["method"] == "GET" else api.post(case["path"], case["body"])
    body = response.json() if response.content else None
    return {"status": response.status_code, "body": comparable(body)}


@pytest.mark.parametrize("name", [name for name in CASES if name != "posted_found"])
def test_the_answer_is_the_reference_answer(recorded: ApiClient, name: str) -> None:
    assert _answer(recorded, name) == _expected(name)


def test_what_the_posts_stored_is_what_the_reference_stored(recorded: ApiClient) -> None:
    """Refused batches store nothing (not even their valid events); an oversized event is
    dropped and the rest of its batch stored; numbers sent as text are stored as text."""
    for name in CASES:
        if name.startswith("post_"):
            _answer(recorded, name)
    assert _answer(recorded, "posted_found") == _expected("posted_found")


def test_following_next_page_walks_the_pages_the_reference_walks(recorded: ApiClient) -> None:
    def send(path: str, body: Any) -> tuple[int, Any]:
        response = recorded.get(path) if body is None else recorded.post(path, body)
        return response.status_code, response.json()

    assert walk(send, "") == ANSWERS["walk"]
