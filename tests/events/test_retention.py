"""The event log's retention: events older than ``ORION_EVENTS_RETENTION_DAYS`` go, with
the resource rows they name, in every workspace; newer ones stay."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

import pytest
from django.core.management import call_command

from events_app.models import Event, EventResource
from events_app.services.retention import events_prune
from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from tests.helpers import ApiClient

# The services command closes the connection it ran on, as a long-running loop does.
pytestmark = pytest.mark.django_db(transaction=True)


def _events(ages_in_days: list[float]) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    return [
        {
            "occurred": (now - dt.timedelta(days=age)).isoformat(),
            "event": "acme.thing.done",
            "resource": {"prefect.resource.id": f"acme.widget.{index}"},
            "related": [{"prefect.resource.id": "acme.flow", "prefect.resource.role": "flow"}],
            "id": str(uuid.uuid4()),
        }
        for index, age in enumerate(ages_in_days)
    ]


def test_the_retention_pass_prunes_old_events_of_every_workspace(api: ApiClient, settings: Any) -> None:
    Workspace.objects.create(slug="team-b", name="team-b")
    old_and_new = [8, 30, 6.9, 0]
    assert api.post("/events", _events(old_and_new)).status_code == 204
    assert api.post("/workspaces/team-b/events", _events(old_and_new)).status_code == 204
    settings.ORION_EVENTS_RETENTION_DAYS = 7
    out = io.StringIO()
    call_command("orion_services", "--once", "--only", "events_retention", stdout=out)
    assert out.getvalue().splitlines() == ["events_retention: 4"]
    window = {"filter": {"occurred": {"since": "2000-01-01T00:00:00Z"}}}
    for prefix in ("", "/workspaces/team-b"):
        kept = api.post(f"{prefix}/events/filter", window).json()["events"]
        assert sorted(event["resource"]["prefect.resource.id"] for event in kept) == ["acme.widget.2", "acme.widget.3"]
    assert EventResource.objects.count() == 2 * 2 * 2
    assert set(EventResource.objects.values_list("event_seq", flat=True)) == set(
        Event.objects.values_list("seq", flat=True)
    )


def test_zero_days_keeps_every_event(api: ApiClient, settings: Any) -> None:
    assert api.post("/events", _events([400])).status_code == 204
    settings.ORION_EVENTS_RETENTION_DAYS = 0
    out = io.StringIO()
    call_command("orion_services", "--once", "--only", "events_retention", stdout=out)
    assert out.getvalue().splitlines() == ["events_retention: 0"]
    assert Event.objects.count() == 1


def test_a_prune_deletes_in_batches(api: ApiClient) -> None:
    assert api.post("/events", _events([10, 11, 12, 13, 14])).status_code == 204
    deleted = events_prune(before=dt.datetime.now(dt.UTC), workspace_id=DEFAULT_WORKSPACE_ID, batch_size=2)
    assert deleted == 5
    assert not Event.objects.exists() and not EventResource.objects.exists()
