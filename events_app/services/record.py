"""The one write path of the event log: events a client sent (``POST /events``, the
``/events/in`` websocket) and events the server emits about its own changes.

Both run inside the caller's transaction: a state change and its event commit or roll back
together, which is what makes the log complete without an outbox. A batch, whatever its
size, is one multi-row INSERT of the events (a duplicate ``id`` in the workspace is
dropped, as a redelivery), one of the resources they name and one upsert of the hourly
counts (``events_app.services.hour_counts``): three statements on SQLite, one on
PostgreSQL (all in one data-modifying CTE). On PostgreSQL a state change
puts these INSERTs in front of its own statement (:func:`record_events_with`), so a
state and its event are one round trip.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import orjson
from django.db import connection
from django.db.models import Model
from django.utils import timezone

from events_app.models import Event, EventHourCount, EventResource
from events_app.services.hour_counts import event_hour_counts_add, hour_counts, hour_sql
from events_app.truncation import truncated, truncated_sql

RESOURCE_ID_LABEL = "prefect.resource.id"
RESOURCE_ROLE_LABEL = "prefect.resource.role"
# The labels that name a resource, the first one given wins.
NAME_LABELS = ("prefect.resource.name", "prefect.name")

_EVENT_COLUMNS = (
    "workspace_id", "uuid", "occurred", "event", "resource_id", "resource", "related", "payload", "received", "follows",
)  # fmt: skip
_RESOURCE_COLUMNS = ("workspace_id", "event_seq", "occurred", "resource_id", "role", "primary_id", "primary_name")
_JSON_COLUMNS = frozenset({"resource", "related", "payload"})
# Each event row carries its writing transaction's id (PostgreSQL), which the log's
# readers order by.
_PG_TXID = "pg_current_xact_id()::text::bigint"


@dataclass(frozen=True)
class StoredText:
    """A text an event's payload quotes from a row its caller has not read:
    ``payload[into][name]`` is the ``column`` of the ``model`` row ``pk`` (of the event's
    workspace), cut in its middle past ``limit`` characters as :func:`truncated` cuts,
    left out when empty. On PostgreSQL the event's own statement reads it, which spares
    the caller a round trip."""

    into: str
    name: str
    model: type[Model]
    pk: Any
    column: str
    limit: int

    def read(self, workspace_id: int) -> str:
        """The text, read now (where the event is not written in one statement)."""
        manager = self.model._default_manager
        value = manager.filter(pk=self.pk, workspace_id=workspace_id).values_list(self.column, flat=True).first()
        return truncated(value or "", self.limit)

    def shape(self) -> tuple[str, str, str, int]:
        """What the SQL reading it depends on: table, key and text columns, limit."""
        meta = self.model._meta
        return meta.db_table, meta.pk.column, meta.get_field(self.column).column, self.limit  # type: ignore[union-attr,return-value]


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
    stored_text: StoredText | None = None


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
    in_statement = connection.vendor == "postgresql"
    rows, texts, resources = _rows(events, workspace_id, read_texts=not in_statement)
    if not rows:
        return []
    if in_statement:
        items, params = _with_items(rows, texts, resources, workspace_id)
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {items} SELECT {_quote('seq')}, {_quote('uuid')} FROM stored", params)
            return list(cursor.fetchall())
    stored = _insert_events(rows)
    occurred_at = {row[1]: row[2] for row in rows}
    seq_of = dict((event_id, seq) for seq, event_id in stored)
    resource_rows = [
        [workspace_id, seq_of[event_id], occurred_at[event_id], *named]
        for event_id, *named in resources
        if event_id in seq_of
    ]
    if resource_rows:
        _insert_resources(resource_rows)
    stored_rows = ((row[2], row[3]) for row in rows if row[1] in seq_of)
    event_hour_counts_add(hour_counts(stored_rows), workspace_id=workspace_id)
    return stored


def record_events_with(
    write: Callable[[str, Sequence[Any]], None], events: Iterable[NewEvent], *, workspace_id: int
) -> None:
    """Run ``write``, a statement of the caller's, and record ``events`` in the same round
    trip where the database allows it.

    On PostgreSQL ``write`` is given ``WITH`` items (their text, ending with a comma, and
    their parameters) to put in front of its statement, so a state and its event are
    one statement; elsewhere it is given nothing and the events are recorded after it.
    """
    if connection.vendor != "postgresql":
        write("", ())
        record_events(events, workspace_id=workspace_id)
        return
    rows, texts, resources = _rows(events, workspace_id, read_texts=False)
    if not rows:
        write("", ())
        return
    items, params = _with_items(rows, texts, resources, workspace_id)
    write(f"{items},", params)


Named = tuple[uuid.UUID, str, str, str, str | None]


def _rows(
    events: Iterable[NewEvent], workspace_id: int, *, read_texts: bool
) -> tuple[list[list[Any]], list[StoredText | None], list[Named]]:
    """The events' rows (in :data:`_EVENT_COLUMNS` order), the text each one's statement
    is to read into its payload (none when ``read_texts``: they are read here), and the
    resources they name, as ``(event id, resource id, role, primary resource id, its
    name)``."""
    received = timezone.now()
    rows: list[list[Any]] = []
    texts: list[StoredText | None] = []
    resources: list[Named] = []
    for new in events:
        event_id = new.id or uuid.uuid4()
        occurred = new.occurred or received
        related = [dict(item) for item in new.related]
        resource_id = new.resource[RESOURCE_ID_LABEL]
        payload, text = dict(new.payload), new.stored_text
        if text is not None and read_texts:
            if quoted := text.read(workspace_id):
                payload[text.into] = {**payload[text.into], text.name: quoted}
            text = None
        values = (dict(new.resource), related, payload, received, new.follows)
        rows.append([workspace_id, event_id, occurred, new.event, resource_id, *values])
        texts.append(text)
        name = next((new.resource[label] for label in NAME_LABELS if label in new.resource), None)
        resources.append((event_id, resource_id, "", resource_id, name))
        resources += [
            (event_id, item[RESOURCE_ID_LABEL], item.get(RESOURCE_ROLE_LABEL, ""), resource_id, name)
            for item in related
        ]
    return rows, texts, resources


def _with_items(
    rows: list[list[Any]],
    texts: list[StoredText | None],
    resources: list[Named],
    workspace_id: int,
) -> tuple[str, list[Any]]:
    """PostgreSQL: the ``WITH`` items that insert the events (``stored``, returning
    ``seq``, ``uuid`` and ``occurred``) and their resources (``named``), the resource rows
    joined to the events actually inserted so a dropped duplicate names nothing.

    The values go to the driver as they are (the driver adapts UUIDs and times itself)
    and the JSON columns as text encoded once, cast in the statement: a column's
    ``get_db_prep_save`` cost more than the INSERT's own work. A payload with a
    :class:`StoredText` is completed by the statement (see :func:`_payload_sql`).
    """
    params: list[Any] = []
    for row, text in zip(rows, texts, strict=True):
        for column, value in zip(_EVENT_COLUMNS, row, strict=True):
            params.append(_json(value) if column in _JSON_COLUMNS else value)
            if column == "payload" and text is not None:
                params += [text.into, _json(value[text.into]), text.name, text.pk, workspace_id]
    params.append(workspace_id)
    # The primary resource's id and name come from the inserted event, in the statement.
    params += [value for resource in resources for value in resource[:3]]
    params.append(workspace_id)
    shapes = tuple(text.shape() if text is not None else None for text in texts)
    return _with_items_sql(shapes, len(resources)), params


def _json(value: Any) -> str:
    """``value`` as JSON text; what orjson refuses (an integer past 64 bits, a key that is
    not a string) as the standard library writes it, as Django's JSON field would."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


# The statements' text depends only on the database and the number of rows, so it is
# built once per shape (bounded: a client's batch may have any size).
@lru_cache(maxsize=128)
def _with_items_sql(texts: tuple[tuple[str, str, str, int] | None, ...], resource_count: int) -> str:
    """The ``WITH`` items of events whose payloads read the texts ``texts`` (by
    :meth:`StoredText.shape`, ``None`` for an event with none)."""
    rows = []
    for text in texts:
        placeholders = [
            (_payload_sql(text) if column == "payload" else "%s::jsonb") if column in _JSON_COLUMNS else "%s"
            for column in _EVENT_COLUMNS
        ]
        rows.append(f"({', '.join(placeholders)}, {_PG_TXID})")
    resource_values = ", ".join(["(%s::uuid, %s, %s)"] * resource_count)
    # The labels are ours (constants), written into the statement.
    labels = ", ".join(f"{_quote('resource')} ->> '{label}'" for label in NAME_LABELS)
    primary_name = f"COALESCE({labels})"
    table = _quote(EventResource._meta.db_table)
    columns = ", ".join(_quote(column) for column in _RESOURCE_COLUMNS)
    seq, event_uuid, occurred, name = _quote("seq"), _quote("uuid"), _quote("occurred"), _quote("event")
    counts, tally = _quote(EventHourCount._meta.db_table), _quote("count")
    hour = hour_sql(f"stored.{occurred}")
    return (
        f"stored AS ({_insert_head(Event, (*_EVENT_COLUMNS, 'txid'))} {', '.join(rows)}"
        f" ON CONFLICT ({_quote('workspace_id')}, {event_uuid}) DO NOTHING"
        f" RETURNING {seq}, {event_uuid}, {occurred}, {name}, {_quote('resource_id')}, {primary_name} AS primary_name),"
        f" named AS (INSERT INTO {table} ({columns})"
        f" SELECT %s, stored.{seq}, stored.{occurred}, r.resource_id, r.role, stored.{_quote('resource_id')},"
        f" stored.primary_name FROM stored JOIN (VALUES {resource_values}) AS r (event_uuid, resource_id, role)"
        f" ON r.event_uuid = stored.{event_uuid}),"
        # Key order: two batches lock the rows they share in the same order.
        f" counted AS (INSERT INTO {counts} ({_quote('workspace_id')}, {_quote('hour')}, {name}, {tally})"
        f" SELECT %s, {hour}, stored.{name}, COUNT(*) FROM stored GROUP BY 2, 3 ORDER BY 2, 3"
        f" ON CONFLICT ({_quote('workspace_id')}, {_quote('hour')}, {name})"
        f" DO UPDATE SET {tally} = {counts}.{tally} + EXCLUDED.{tally})"
    )


def _payload_sql(text: tuple[str, str, str, int] | None) -> str:
    """The payload's value: the JSON parameter, and with a stored text the key ``into``
    replaced by its JSON parameter plus ``{name: the text}`` when the row's text is not
    empty (parameters: payload, into, the payload's ``into``, name, key, workspace)."""
    if text is None:
        return "%s::jsonb"
    table, key, column, limit = text
    value = f"t.{_quote(column)}"
    quoted = (
        f"SELECT jsonb_build_object(%s::text, {truncated_sql(value, limit)}) FROM {_quote(table)} AS t"
        f" WHERE t.{_quote(key)} = %s AND t.{_quote('workspace_id')} = %s AND {value} <> ''"
    )
    return f"(%s::jsonb || jsonb_build_object(%s::text, %s::jsonb || COALESCE(({quoted}), '{{}}'::jsonb)))"


@lru_cache(maxsize=128)
def _events_sql(count: int) -> str:
    """SQLite: the multi-row INSERT of events, dropping a duplicate id, returning seq and
    uuid (no transaction id: one writer at a time, the log is in ``seq`` order)."""
    row_sql = f"({', '.join(['%s'] * len(_EVENT_COLUMNS))}, NULL)"
    return (
        f"{_insert_head(Event, (*_EVENT_COLUMNS, 'txid'))} {', '.join([row_sql] * count)}"
        f" ON CONFLICT ({_quote('workspace_id')}, {_quote('uuid')}) DO NOTHING"
        f" RETURNING {_quote('seq')}, {_quote('uuid')}"
    )


@lru_cache(maxsize=128)
def _resources_sql(count: int) -> str:
    row_sql = f"({', '.join(['%s'] * len(_RESOURCE_COLUMNS))})"
    return f"{_insert_head(EventResource, _RESOURCE_COLUMNS)} {', '.join([row_sql] * count)}"


def _insert_events(rows: list[list[Any]]) -> list[tuple[int, uuid.UUID]]:
    sql, params = _events_sql(len(rows)), [value for row in rows for value in _prepare(Event, _EVENT_COLUMNS, row)]
    uuid_field = Event._meta.get_field("uuid")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    return [(seq, uuid_field.to_python(value)) for seq, value in returned]


def _insert_resources(rows: list[list[Any]]) -> None:
    params = [value for row in rows for value in _prepare(EventResource, _RESOURCE_COLUMNS, row)]
    with connection.cursor() as cursor:
        cursor.execute(_resources_sql(len(rows)), params)


def _prepare(model: type[Event] | type[EventResource], columns: Sequence[str], row: Sequence[Any]) -> list[Any]:
    """SQLite: the row's values as the driver takes them (a UUID is hex text, a time and a
    JSON value strings)."""
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


def event_resources_fill_primary(
    first: int,
    last: int,
    *,
    event_model: type[Event] = Event,
    resource_model: type[EventResource] = EventResource,
) -> int:
    """Write each event's primary resource (id and name) on the resource rows of the events
    ``first`` .. ``last`` (by ``seq``), as :func:`record_events` writes it on new rows (the
    migration's backfill, one bounded range per call); how many rows it wrote."""
    resources, events = _quote(resource_model._meta.db_table), _quote(event_model._meta.db_table)
    seq, event_seq, resource_id = _quote("seq"), _quote("event_seq"), _quote("resource_id")
    if connection.vendor == "postgresql":
        names = [f"e.{_quote('resource')} ->> %s" for _ in NAME_LABELS]
        params: list[Any] = list(NAME_LABELS)
    else:
        names = [f"json_extract(e.{_quote('resource')}, %s)" for _ in NAME_LABELS]
        params = [f'$."{label}"' for label in NAME_LABELS]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {resources} SET {_quote('primary_id')} = e.{resource_id},"
            f" {_quote('primary_name')} = COALESCE({', '.join(names)})"
            f" FROM {events} AS e WHERE e.{seq} = {resources}.{event_seq}"
            f" AND {resources}.{event_seq} BETWEEN %s AND %s AND e.{seq} BETWEEN %s AND %s",
            [*params, first, last, first, last],
        )
        return cursor.rowcount
