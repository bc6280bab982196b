"""The one write path of the event log: events a client sent (``POST /events``, the
``/events/in`` websocket) and events the server emits about its own changes.

Both run inside the caller's transaction: a state change and its event commit or roll back
together, which is what makes the log complete without an outbox. Two statements per
batch, whatever its size: one multi-row INSERT of the events (a duplicate ``id`` in the
workspace is dropped, as a redelivery), one of the resources they name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.utils import timezone

from events_app.models import Event, EventResource

RESOURCE_ID_LABEL = "prefect.resource.id"
RESOURCE_ROLE_LABEL = "prefect.resource.role"

_EVENT_COLUMNS = (
    "workspace_id", "uuid", "occurred", "event", "resource_id", "resource", "related", "payload", "received", "follows",
)  # fmt: skip
_RESOURCE_COLUMNS = ("workspace_id", "event_seq", "occurred", "resource_id", "role")


@dataclass(frozen=True)
class NewEvent:
    """An event to record, already validated: ``resource`` and each of ``related`` are
    label dictionaries with ``prefect.resource.id`` (and, for related, a role)."""

    event: str
    resource: Mapping[str, str]
    related: Sequence[Mapping[str, str]] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)
    occurred: datetime | None = None
    id: uuid.UUID | None = None
    follows: uuid.UUID | None = None


def emit(
    *,
    workspace_id: int,
    event: str,
    resource: Mapping[str, str],
    related: Sequence[Mapping[str, str]] = (),
    payload: Mapping[str, Any] | None = None,
    occurred: datetime | None = None,
    follows: uuid.UUID | None = None,
) -> uuid.UUID:
    """Record one event the server emits about its own change; its id."""
    event_id = uuid.uuid4()
    new = NewEvent(event, resource, related, payload or {}, occurred, event_id, follows)
    record_events([new], workspace_id=workspace_id)
    return event_id


def record_events(events: Iterable[NewEvent], *, workspace_id: int) -> list[tuple[int, uuid.UUID]]:
    """Store ``events`` in ``workspace_id``; the ``(seq, id)`` of each one stored (a
    duplicate id is left out). Missing ids and times are filled here; ``received`` is now."""
    received = timezone.now()
    rows: list[list[Any]] = []
    resources: dict[uuid.UUID, list[tuple[str, str]]] = {}
    occurred_at: dict[uuid.UUID, datetime] = {}
    for new in events:
        event_id = new.id or uuid.uuid4()
        occurred = new.occurred or received
        related = [dict(item) for item in new.related]
        resource_id = new.resource[RESOURCE_ID_LABEL]
        values = (dict(new.resource), related, dict(new.payload), received, new.follows)
        rows.append([workspace_id, event_id, occurred, new.event, resource_id, *values])
        resources[event_id] = [(new.resource[RESOURCE_ID_LABEL], "")] + [
            (item[RESOURCE_ID_LABEL], item.get(RESOURCE_ROLE_LABEL, "")) for item in related
        ]
        occurred_at[event_id] = occurred
    if not rows:
        return []
    stored = _insert_events(rows)
    resource_rows = [
        [workspace_id, seq, occurred_at[event_id], resource_id, role]
        for seq, event_id in stored
        for resource_id, role in resources[event_id]
    ]
    if resource_rows:
        _insert(EventResource, _RESOURCE_COLUMNS, resource_rows)
    return stored


def _insert_events(rows: list[list[Any]]) -> list[tuple[int, uuid.UUID]]:
    prepared = [_prepare(Event, _EVENT_COLUMNS, row) for row in rows]
    txid = "pg_current_xact_id()::text::bigint" if connection.vendor == "postgresql" else "NULL"
    row_sql = f"({', '.join(['%s'] * len(_EVENT_COLUMNS))}, {txid})"
    sql = (
        f"{_insert_head(Event, (*_EVENT_COLUMNS, 'txid'))} {', '.join([row_sql] * len(rows))}"
        f" ON CONFLICT ({_quote('workspace_id')}, {_quote('uuid')}) DO NOTHING"
        f" RETURNING {_quote('seq')}, {_quote('uuid')}"
    )
    uuid_field = Event._meta.get_field("uuid")
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in prepared for value in row])
        returned = cursor.fetchall()
    return [(seq, uuid_field.to_python(value)) for seq, value in returned]


def _insert(model: type[EventResource], columns: Sequence[str], rows: list[list[Any]]) -> None:
    row_sql = f"({', '.join(['%s'] * len(columns))})"
    sql = f"{_insert_head(model, columns)} {', '.join([row_sql] * len(rows))}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in _prepare(model, columns, row)])


def _prepare(model: type[Event] | type[EventResource], columns: Sequence[str], row: Sequence[Any]) -> list[Any]:
    """The row's values as the database driver takes them (a UUID on SQLite is hex text, a
    JSON value a string or the driver's JSON wrapper)."""
    return [
        _field(model, column).get_db_prep_save(value, connection) for column, value in zip(columns, row, strict=True)
    ]


@cache
def _field(model: type[Event] | type[EventResource], column: str) -> Any:
    return next(field for field in model._meta.concrete_fields if field.column == column)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _insert_head(model: type[Event] | type[EventResource], columns: Sequence[str]) -> str:
    return f"INSERT INTO {_quote(model._meta.db_table)} ({', '.join(_quote(column) for column in columns)}) VALUES"
