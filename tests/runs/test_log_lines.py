"""``POST /logs/`` reads the lines of the shape clients send without the serializer
(``runs_app.api.records.plain_log_line``): what it makes of a line is what the serializer
makes of it, and every other line (an error among them) is the serializer's to answer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework import serializers

from runs_app.api.records import LogCreateSerializer, plain_log_line
from runs_app.models import Log
from tests.helpers import ApiClient

RUN = str(uuid.uuid4())
LINE = {"name": "prefect.flow_runs", "level": 20, "message": "m", "timestamp": "2026-11-23T02:29:10+00:00"}

# Lines the clients send: read without the serializer.
PLAIN = [
    {**LINE, "flow_run_id": RUN, "task_run_id": None},
    {**LINE, "flow_run_id": None, "task_run_id": RUN.upper()},
    LINE,
    {**LINE, "flow_run_id": RUN},
    {**LINE, "message": "", "name": ""},
    {**LINE, "timestamp": "2026-11-23T02:29:10.123456"},  # naive: UTC
    {**LINE, "timestamp": "2026-11-23T04:29:10+02:00"},
    {**LINE, "level": -32768},
    {**LINE, "level": 32767},
    {**LINE, "flow_run_id": "{" + RUN + "}"},
]
# Anything else: the serializer's, to accept (first group) or refuse.
OTHER = [
    {**LINE, "message": "caf\u00e9"},
    {**LINE, "level": 20.0},
    {**LINE, "level": "20"},
    {**LINE, "name": 7},
    {**LINE, "message": "a\x00b"},
    {**LINE, "message": "\ud800"},
    {**LINE, "level": True},
    {**LINE, "level": 32768},
    {**LINE, "timestamp": "yesterday"},
    {**LINE, "timestamp": 1700000000},
    {**LINE, "timestamp": None},
    {**LINE, "timestamp": "9999-12-31T23:59:59-01:00"},
    {**LINE, "flow_run_id": "not-a-uuid"},
    {**LINE, "flow_run_id": 5},
    {**LINE, "extra": 1},
    {key: value for key, value in LINE.items() if key != "level"},
    {**LINE, "name": None},
    [LINE],
    "line",
    None,
]


def serializer_reads(item: Any) -> dict[str, Any] | str:
    try:
        return dict(LogCreateSerializer().run_validation(item))
    except serializers.ValidationError as error:
        return f"refused: {error.detail}"


@pytest.mark.parametrize("item", PLAIN, ids=range(len(PLAIN)))
def test_a_plain_line_reads_as_the_serializer_reads_it(item: Any) -> None:
    line = plain_log_line(item)
    assert line is not None
    assert line == serializer_reads(item)
    expected = serializer_reads(item)
    assert isinstance(expected, dict)
    assert {key: type(value) for key, value in line.items()} == {key: type(value) for key, value in expected.items()}


@pytest.mark.parametrize("item", OTHER, ids=range(len(OTHER)))
def test_any_other_line_is_left_to_the_serializer(item: Any) -> None:
    assert plain_log_line(item) is None


@pytest.mark.django_db
def test_a_batch_of_both_kinds_stores_what_the_serializer_reads(api: ApiClient) -> None:
    batch = [*PLAIN, OTHER[0], OTHER[1]]
    assert api.post("/logs/", batch).status_code == 201
    fields = ("name", "level", "message", "timestamp", "flow_run_id", "task_run_id")
    stored = sorted(Log.objects.values_list(*fields), key=repr)
    expected = [serializer_reads(item) for item in batch]
    wanted = sorted(
        (tuple(line.get(field) for field in fields) for line in expected if isinstance(line, dict)), key=repr
    )
    assert len(wanted) == len(batch)
    assert stored == wanted


@pytest.mark.django_db
def test_a_refused_line_among_plain_ones_is_answered_by_its_index(api: ApiClient) -> None:
    response = api.post("/logs/", [PLAIN[0], PLAIN[1], OTHER[7], PLAIN[2]])
    assert response.status_code == 422
    assert [error["loc"][:2] for error in response.json()["exception_detail"]] == [["body", 2]]
    assert Log.objects.count() == 0
