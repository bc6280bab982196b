"""The event log's write path: what it stores, what it drops, and in which transaction."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from events_app.models import Event, EventResource
from events_app.services.record import NewEvent, emit, record_events
from orion_project.models import DEFAULT_WORKSPACE_ID

pytestmark = pytest.mark.django_db(transaction=True)


def _event(event_id: uuid.UUID | None = None) -> NewEvent:
    return NewEvent(
        event="prefect.flow-run.Completed",
        resource={"prefect.resource.id": "prefect.flow-run.1", "prefect.resource.name": "a"},
        related=[{"prefect.resource.id": "prefect.flow.2", "prefect.resource.role": "flow"}],
        payload={"validated_state": {"type": "COMPLETED"}},
        id=event_id,
    )


def test_an_event_and_the_resources_it_names_are_stored() -> None:
    [(seq, event_id)] = record_events([_event()], workspace_id=DEFAULT_WORKSPACE_ID)
    stored = Event.objects.get(seq=seq)
    assert stored.uuid == event_id
    assert stored.resource_id == "prefect.flow-run.1"
    assert stored.related == [{"prefect.resource.id": "prefect.flow.2", "prefect.resource.role": "flow"}]
    assert stored.payload == {"validated_state": {"type": "COMPLETED"}}
    assert sorted(EventResource.objects.filter(event_seq=seq).values_list("resource_id", "role")) == [
        ("prefect.flow-run.1", ""),
        ("prefect.flow.2", "flow"),
    ]


def test_a_duplicate_id_is_dropped_as_a_redelivery() -> None:
    event_id = uuid.uuid4()
    assert len(record_events([_event(event_id)], workspace_id=DEFAULT_WORKSPACE_ID)) == 1
    assert record_events([_event(event_id)], workspace_id=DEFAULT_WORKSPACE_ID) == []
    assert Event.objects.filter(uuid=event_id).count() == 1
    assert EventResource.objects.count() == 2


def test_an_emitted_event_rolls_back_with_the_change_it_records() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(workspace_id=DEFAULT_WORKSPACE_ID, event="x.y", resource={"prefect.resource.id": "r"})
        raise RuntimeError
    assert not Event.objects.exists()
    assert not EventResource.objects.exists()
