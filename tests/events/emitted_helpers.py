"""Reading back the events the server emitted, in the shape the API answers them, for the
``test_emitted_*`` modules (imported from here, never from another test module)."""

from __future__ import annotations

from typing import Any

from events_app.models import Event


def emitted(prefix: str = "prefect.", *, workspace_id: int | None = None) -> list[dict[str, Any]]:
    """The events whose name starts with ``prefix``, in the order they were recorded."""
    rows = Event.objects.filter(event__startswith=prefix).order_by("seq")
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    return [
        {
            "event": row.event,
            "resource": row.resource,
            "related": row.related,
            "payload": row.payload,
            "id": str(row.uuid),
            "follows": str(row.follows) if row.follows else None,
            "occurred": row.occurred,
        }
        for row in rows
    ]


def names(events: list[dict[str, Any]]) -> list[str]:
    return [event["event"] for event in events]
