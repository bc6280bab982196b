"""The one write path of the event log: events a client sent (``POST /events``, the
``/events/in`` websocket) and events the server emits about its own changes.

Both run inside the caller's transaction: a state change and its event commit or roll back
together, which is what makes the log complete without an outbox. A batch, whatever its
size, is one multi-row INSERT of the events (a duplicate ``id`` in the workspace is
dropped, as a redelivery) and one of the resources they name: two statements on SQLite,
one on PostgreSQL (both INSERTs in one data-modifying CTE, a round trip less on the
state-change path).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from django.db import connection
from django.utils import timezone

from events_app.models import Event, EventHourCount, EventResource
from events_app.services.hour_counts import event_hour_counts_add, hour_counts, hour_sql

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
    id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Record one event the server emits about its own change; its id (``id`` when the
    change has one of its own, as a state's id names the state-change event)."""
    event_id = id or uuid.uuid4()
    new = NewEvent(event, resource, related, payload or {}, occurred, event_id, follows)
    record_events([new], workspace_id=workspace_id)
    return event_id


def record_events(events: Iterable[NewEvent], *, workspace_id: int) -> list[tuple[int, uuid.UUID]]:
    """Store ``events`` in ``workspace_id``; the ``(seq, id)`` of each one stored (a
    duplicate id is left out). Missing ids and times are filled here; ``received`` is now."""
    received = timezone.now()
    rows: list[list[Any]] = []
    resources: list[tuple[uuid.UUID, str, str]] = []
    for new in events:
        event_id = new.id or uuid.uuid4()
        occurred = new.occurred or received
        related = [dict(item) for item in new.related]
        resource_id = new.resource[RESOURCE_ID_LABEL]
        values = (dict(new.resource), related, dict(new.payload), received, new.follows)
        rows.append([workspace_id, event_id, occurred, new.event, resource_id, *values])
        resources.append((event_id, resource_id, ""))
        resources += [(event_id, item[RESOURCE_ID_LABEL], item.get(RESOURCE_ROLE_LABEL, "")) for item in related]
    if not rows:
        return []
    if connection.vendor == "postgresql":
        return _insert_in_one_statement(rows, resources, workspace_id)
    stored = _insert_events(rows)
    occurred_at = {row[1]: row[2] for row in rows}
    seq_of = dict((event_id, seq) for seq, event_id in stored)
    resource_rows = [
        [workspace_id, seq_of[event_id], occurred_at[event_id], resource_id, role]
        for event_id, resource_id, role in resources
        if event_id in seq_of
    ]
    if resource_rows:
        _insert_resources(resource_rows)
    stored_rows = ((row[2], row[3]) for row in rows if row[1] in seq_of)
    event_hour_counts_add(hour_counts(stored_rows), workspace_id=workspace_id)
    return stored


def _insert_in_one_statement(
    rows: list[list[Any]], resources: list[tuple[uuid.UUID, str, str]], workspace_id: int
) -> list[tuple[int, uuid.UUID]]:
    """PostgreSQL: the events, their resources and their hourly counts in one round trip
    (a data-modifying CTE), the resource rows and the counts taken from the events actually
    inserted so a dropped duplicate names and counts nothing."""
    resource_values = (value for resource in resources for value in resource)
    params = [*_events_params(rows), workspace_id, *resource_values, workspace_id]
    with connection.cursor() as cursor:
        cursor.execute(_one_statement_sql(len(rows), len(resources)), params)
        return list(cursor.fetchall())


# The statements' text depends only on the database and the number of rows, so it is
# built once per shape (bounded: a client's batch may have any size).
@lru_cache(maxsize=128)
def _one_statement_sql(count: int, resource_count: int) -> str:
    resource_values = ", ".join(["(%s::uuid, %s, %s)"] * resource_count)
    table = _quote(EventResource._meta.db_table)
    columns = ", ".join(_quote(column) for column in _RESOURCE_COLUMNS)
    seq, event_uuid, occurred, name = _quote("seq"), _quote("uuid"), _quote("occurred"), _quote("event")
    counts, tally = _quote(EventHourCount._meta.db_table), _quote("count")
    hour = hour_sql(f"stored.{occurred}")
    return (
        f"WITH stored AS ({_events_sql('postgresql', count)}, {occurred}, {name}),"
        f" named AS (INSERT INTO {table} ({columns})"
        f" SELECT %s, stored.{seq}, stored.{occurred}, r.resource_id, r.role"
        f" FROM stored JOIN (VALUES {resource_values}) AS r (event_uuid, resource_id, role)"
        f" ON r.event_uuid = stored.{event_uuid}),"
        # Key order: two batches lock the rows they share in the same order.
        f" counted AS (INSERT INTO {counts} ({_quote('workspace_id')}, {_quote('hour')}, {name}, {tally})"
        f" SELECT %s, {hour}, stored.{name}, COUNT(*) FROM stored GROUP BY 2, 3 ORDER BY 2, 3"
        f" ON CONFLICT ({_quote('workspace_id')}, {_quote('hour')}, {name})"
        f" DO UPDATE SET {tally} = {counts}.{tally} + EXCLUDED.{tally})"
        f" SELECT {seq}, {event_uuid} FROM stored"
    )


@lru_cache(maxsize=128)
def _events_sql(vendor: str, count: int) -> str:
    """The multi-row INSERT of events, dropping a duplicate id, returning seq and uuid."""
    txid = "pg_current_xact_id()::text::bigint" if vendor == "postgresql" else "NULL"
    row_sql = f"({', '.join(['%s'] * len(_EVENT_COLUMNS))}, {txid})"
    return (
        f"{_insert_head(Event, (*_EVENT_COLUMNS, 'txid'))} {', '.join([row_sql] * count)}"
        f" ON CONFLICT ({_quote('workspace_id')}, {_quote('uuid')}) DO NOTHING"
        f" RETURNING {_quote('seq')}, {_quote('uuid')}"
    )


@lru_cache(maxsize=128)
def _resources_sql(vendor: str, count: int) -> str:
    row_sql = f"({', '.join(['%s'] * len(_RESOURCE_COLUMNS))})"
    return f"{_insert_head(EventResource, _RESOURCE_COLUMNS)} {', '.join([row_sql] * count)}"


def _events_params(rows: list[list[Any]]) -> list[Any]:
    return [value for row in rows for value in _prepare(Event, _EVENT_COLUMNS, row)]


def _insert_events(rows: list[list[Any]]) -> list[tuple[int, uuid.UUID]]:
    sql, params = _events_sql(connection.vendor, len(rows)), _events_params(rows)
    uuid_field = Event._meta.get_field("uuid")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    return [(seq, uuid_field.to_python(value)) for seq, value in returned]


def _insert_resources(rows: list[list[Any]]) -> None:
    params = [value for row in rows for value in _prepare(EventResource, _RESOURCE_COLUMNS, row)]
    with connection.cursor() as cursor:
        cursor.execute(_resources_sql(connection.vendor, len(rows)), params)


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
