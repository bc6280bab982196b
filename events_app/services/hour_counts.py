"""Keeping :class:`~events_app.models.EventHourCount` equal to the events it counts.

The write path adds to it in its own statement (``events_app.services.record``: inside the
one statement on PostgreSQL, :func:`event_hour_counts_add` on SQLite), retention takes away
what it deletes (:func:`event_hour_counts_add` with negative counts, then the emptied rows
go), and :func:`event_hour_counts_rebuild` recomputes the table from the events (the
migration's backfill).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.db import connection

from events_app.models import Event, EventHourCount

HOUR = dt.timedelta(hours=1)

HourKey = tuple[dt.datetime, str]


def hour_of(moment: dt.datetime) -> dt.datetime:
    """The start of the hour (UTC) ``moment`` is in."""
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def hour_counts(events: Iterable[tuple[dt.datetime, str]]) -> Counter[HourKey]:
    """How many of ``events`` (``(occurred, name)`` pairs) fall in each hour and name."""
    return Counter((hour_of(occurred), name) for occurred, name in events)


def event_hour_counts_add(counts: Mapping[HourKey, int], *, workspace_id: int) -> None:
    """Add ``counts`` (negative to take events away) to the workspace's rows, in one
    statement, in key order (two writers lock shared rows in the same order); the rows a
    subtraction empties are deleted."""
    keys = sorted(key for key, count in counts.items() if count)
    if not keys:
        return
    params: list[Any] = []
    hour_field = EventHourCount._meta.get_field("hour")
    for hour, name in keys:
        params += [workspace_id, hour_field.get_db_prep_save(hour, connection), name, counts[hour, name]]
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(len(keys)), params)
    if any(counts[key] < 0 for key in keys):
        EventHourCount.objects.filter(
            workspace_id=workspace_id, hour__gte=keys[0][0], hour__lte=keys[-1][0], count__lte=0
        ).delete()


@lru_cache(maxsize=64)
def _upsert_sql(rows: int) -> str:
    quote = connection.ops.quote_name
    table, count = quote(EventHourCount._meta.db_table), quote("count")
    columns = ", ".join(quote(column) for column in ("workspace_id", "hour", "event", "count"))
    values = ", ".join(["(%s, %s, %s, %s)"] * rows)
    return (
        f"INSERT INTO {table} ({columns}) VALUES {values}"
        f" ON CONFLICT ({quote('workspace_id')}, {quote('hour')}, {quote('event')})"
        f" DO UPDATE SET {count} = {table}.{count} + EXCLUDED.{count}"
    )


def hour_sql(column: str) -> str:
    """SQL of the start of the UTC hour of the datetime ``column``, as the table stores it."""
    if connection.vendor == "postgresql":
        return f"date_trunc('hour', {column}, 'UTC')"
    return f"strftime('%Y-%m-%d %H:00:00', {column})"


def event_hour_counts_rebuild(
    *, event_model: type[Event] = Event, count_model: type[EventHourCount] = EventHourCount
) -> None:
    """Recompute every row from the events, in one statement (after emptying the table)."""
    quote = connection.ops.quote_name
    counts, events = quote(count_model._meta.db_table), quote(event_model._meta.db_table)
    columns = ", ".join(quote(column) for column in ("workspace_id", "hour", "event", "count"))
    workspace, event = quote("workspace_id"), quote("event")
    hour = hour_sql(quote("occurred"))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {counts}")
        cursor.execute(
            f"INSERT INTO {counts} ({columns}) SELECT {workspace}, {hour}, {event}, COUNT(*)"
            f" FROM {events} GROUP BY {workspace}, {hour}, {event}"
        )
