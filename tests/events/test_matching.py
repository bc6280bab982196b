"""The in-memory matcher (what ``/events/out`` streams) selects exactly the events the
HTTP filter (``POST /events/filter``'s selector) lists, filter by filter."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from events_app.api.serializers import EventFilterSerializer
from events_app.matching import event_matches
from events_app.models import Event
from events_app.selectors import events_matching
from events_app.services.record import NewEvent, record_events
from orion_project.models import DEFAULT_WORKSPACE_ID

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC)


def _related(resource_id: str, role: str, **labels: str) -> dict[str, str]:
    return {"prefect.resource.id": resource_id, "prefect.resource.role": role, **labels}


EVENTS = [
    ("prefect.flow-run.Completed", {"prefect.resource.id": "prefect.flow-run.1", "env": "prod"},
     [_related("prefect.flow.9", "flow", name="etl"), _related("prefect.tag.a", "tag")], 10),
    ("prefect.flow-run.Failed", {"prefect.resource.id": "prefect.flow-run.2", "env": "dev"},
     [_related("prefect.flow.8", "flow", name="report")], 20),
    ("prefect.task-run.Running", {"prefect.resource.id": "prefect.task-run.3"},
     [_related("prefect.flow-run.1", "flow-run")], 30),
    ("custom.thing", {"prefect.resource.id": "my.thing", "env": "production"}, [], 40),
    ("custom.thing.done", {"prefect.resource.id": "my.other", "env": "staging"},
     [_related("prefect.tag.a", "tag")], 50),
]  # fmt: skip

FILTERS: list[dict[str, Any]] = [
    {},
    {"occurred": {"since": (NOW - dt.timedelta(minutes=35)).isoformat(), "until": NOW.isoformat()}},
    {"event": {"prefix": ["prefect.flow-run."]}},
    {"event": {"prefix": ["prefect."], "exclude_prefix": ["prefect.task-run."]}},
    {"event": {"name": ["custom.thing"], "exclude_name": ["custom.thing.done"]}},
    {"resource": {"id": ["my.thing", "prefect.flow-run.2"]}},
    {"resource": {"id_prefix": ["prefect.flow-run."]}},
    {"resource": {"labels": {"env": ["prod", "dev"]}}},
    {"resource": {"labels": {"env": "prod*"}}},
    {"resource": {"labels": {"env": "!prod*"}}},
    {"resource": {"labels": {"env": ["!dev", "!staging"]}}},
    {"resource": {"labels": {"prefect.resource.id": "prefect.*"}}},
    {"related": {"role": ["flow"]}},
    {"related": {"id": ["prefect.tag.a"]}},
    {"related": {"resources_in_roles": [["prefect.flow-run.1", "flow-run"]]}},
    {"related": {"labels": {"name": "etl"}}},
    {"related": {"labels": {"prefect.resource.role": "flow", "name": "!etl"}}},
    {"any_resource": {"id": ["prefect.flow-run.1"]}},
    {"any_resource": {"id_prefix": ["prefect.tag."]}},
    {"any_resource": {"labels": {"env": "prod*"}}},
    {"event": {"prefix": ["prefect."]}, "related": {"role": ["tag"]}, "resource": {"labels": {"env": "prod"}}},
]


@pytest.fixture
def stored() -> list[Event]:
    events = [
        NewEvent(name, resource, related, {}, NOW - dt.timedelta(minutes=minutes), uuid.uuid4())
        for name, resource, related, minutes in EVENTS
    ]
    record_events(events, workspace_id=DEFAULT_WORKSPACE_ID)
    return list(Event.objects.order_by("seq"))


@pytest.mark.parametrize("document", FILTERS, ids=[str(index) for index in range(len(FILTERS))])
def test_the_matcher_agrees_with_the_http_filter(stored: list[Event], document: dict[str, Any]) -> None:
    filters = dict(EventFilterSerializer().run_validation(document))
    listed = set(events_matching(filters=filters, workspace_id=DEFAULT_WORKSPACE_ID).values_list("seq", flat=True))
    matched = {row.seq for row in stored if event_matches(filters, row)}
    assert matched == listed


def test_the_filters_above_tell_events_apart(stored: list[Event]) -> None:
    """Each filter of the table selects some events and leaves others (the comparison above
    would otherwise prove little)."""
    partial = 0
    for document in FILTERS[1:]:
        filters = dict(EventFilterSerializer().run_validation(document))
        count = sum(event_matches(filters, row) for row in stored)
        partial += 0 < count < len(stored)
    assert partial >= len(FILTERS) - 4
