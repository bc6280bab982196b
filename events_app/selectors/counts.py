"""Counts of the events an ``EventFilter`` matches, by time bucket, name or resource
(``POST /events/count-by/{countable}``): from the hourly counts where they answer the
filter exactly (:class:`~events_app.models.EventHourCount`), else from the events.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, F, FloatField, Max, Min, Q, QuerySet, Sum, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Lag

from events_app.models import Event, EventResource
from events_app.selectors import _by_hours, _by_resources, _column, _Hours, _json_text, _table, events_matching
from events_app.services.record import NAME_LABELS

# Time buckets are counted from this Monday, as the reference counts them, so the same
# span of time falls in the same bucket whatever the window asked for.
PIVOT = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
MAX_BUCKETS = 1000
MIN_INTERVAL = 0.01
TIME_UNITS = {"week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
COUNTABLES = ("day", "time", "event", "resource")
# A bucket reaching past the calendar's first or last day is cut at it.
CALENDAR_START = dt.datetime.min.replace(tzinfo=dt.UTC)
CALENDAR_END = dt.datetime.max.replace(tzinfo=dt.UTC)


class InvalidCountParameters(ValueError):
    """A count-by request whose time buckets cannot be made (too many, too small)."""


@dataclass(frozen=True)
class EventCount:
    """One group of the counted events: ``value`` to filter by, ``label`` to show."""

    value: str
    label: str
    count: int
    start_time: dt.datetime
    end_time: dt.datetime


def _bucket_sql(seconds: float) -> str:
    """SQL of the index of an event's time bucket of ``seconds``, counted from :data:`PIVOT`
    (both numbers are written into the statement: they are ours, not the client's text)."""
    column = _column("occurred")
    width = repr(float(seconds))
    pivot = int(PIVOT.timestamp())
    if connection.vendor == "postgresql":
        # date_part is double precision (EXTRACT is numeric, several times slower per row).
        return f"FLOOR((date_part('epoch', {column}) - {pivot}) / {width})"
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS[.ffffff]': whole seconds exactly, then the fraction.
    # (strftime of the whole value would round it to the millisecond, into the next second.)
    whole_seconds = f"CAST(strftime('%%s', substr({column}, 1, 19)) AS INTEGER)"
    offset = f"(({whole_seconds} - {pivot}) + CAST(substr({column}, 20) AS REAL)) / {width}"
    whole = f"CAST({offset} AS INTEGER)"
    return f"(CASE WHEN {offset} < 0 AND {offset} <> {whole} THEN {whole} - 1 ELSE {whole} END)"


def _end_of(moment: dt.datetime, unit: str) -> dt.datetime:
    """The last microsecond of the ``unit`` (week from Monday) that holds ``moment``."""
    start = moment.replace(microsecond=0)
    if unit in ("minute", "hour", "day", "week"):
        start = start.replace(second=0)
    if unit in ("hour", "day", "week"):
        start = start.replace(minute=0)
    if unit in ("day", "week"):
        start = start.replace(hour=0)
    if unit == "week":
        start -= dt.timedelta(days=start.weekday())
    try:
        return _bucket_end(start + dt.timedelta(seconds=TIME_UNITS[unit]))
    except OverflowError:
        return CALENDAR_END


def time_spans(
    since: dt.datetime, until: dt.datetime, unit: str, interval: float, now: dt.datetime
) -> tuple[int, list[tuple[dt.datetime, dt.datetime]]]:
    """The buckets of ``interval`` ``unit``\\ s covering ``since`` .. ``until`` (cut at the
    end of the current ``unit``): the index of the first, counted from :data:`PIVOT`, and
    each one's first and last microsecond."""
    if interval < MIN_INTERVAL:
        raise InvalidCountParameters(f"The minimum interval is {MIN_INTERVAL}")
    delta = dt.timedelta(seconds=TIME_UNITS[unit] * interval)
    buckets = math.ceil((until - since) / delta)
    if buckets > MAX_BUCKETS:
        raise InvalidCountParameters(
            f"The given interval would create {buckets} buckets, which is too many. Please increase the "
            f"interval or reduce the time range to produce {MAX_BUCKETS} buckets or fewer."
        )
    end = min(until, _end_of(now, unit)) if until > now else until
    first = math.floor((since - PIVOT) / delta)
    spans = []
    index, start = first, _bucket_start(first, delta)
    while start is not None and start < end:
        following = _bucket_start(index + 1, delta)
        spans.append((start, _bucket_end(following)))
        index, start = index + 1, following
    return first, spans


def _bucket_start(index: int, delta: dt.timedelta) -> dt.datetime | None:
    """Where bucket ``index`` of ``delta`` starts: at the calendar's first instant for the
    bucket that holds it, ``None`` for one that starts past the calendar's end."""
    try:
        return PIVOT + delta * index
    except OverflowError:
        return CALENDAR_START if index < 0 else None


def _bucket_end(following: dt.datetime | None) -> dt.datetime:
    """The last microsecond before ``following`` (``None``: the calendar's last one)."""
    return CALENDAR_END if following is None else following - dt.timedelta(microseconds=1)


def event_counts(
    *,
    filters: dict[str, Any],
    countable: str,
    workspace_id: int,
    time_unit: str = "day",
    time_interval: float = 1.0,
    now: dt.datetime,
) -> list[EventCount]:
    """The events ``filters`` matches counted by ``countable``: by time bucket (``day``,
    or ``time`` in ``time_interval`` ``time_unit``\\ s: every bucket of the window, empty
    ones too, oldest first), by event name or by primary resource (most events first,
    then by label)."""
    matching = events_matching(filters=filters, workspace_id=workspace_id).order_by()
    if countable in ("day", "time"):
        unit, interval = ("day", 1.0) if countable == "day" else (time_unit, time_interval)
        occurred = filters["occurred"]
        first, spans = time_spans(occurred["since"], occurred["until"], unit, interval, now)
        width = TIME_UNITS[unit] * interval
        # A bucket of whole hours holds whole hours of the table (the pivot is on the hour).
        hours = _by_hours(filters, workspace_id) if width % 3600 == 0 else None
        counts = [0] * len(spans)

        def add(bucket: float, count: int) -> None:
            if 0 <= (index := int(bucket) - first) < len(counts):
                counts[index] += count

        if hours is None:
            bucket = RawSQL(_bucket_sql(width), [], output_field=FloatField())
            for row in matching.annotate(bucket=bucket).values("bucket").annotate(n=Count("*")):
                add(row["bucket"], row["n"])
        else:
            for hour, count in _hour_counts(hours, workspace_id):
                add((hour - PIVOT).total_seconds() // width, count)
        return [
            EventCount(str(index), start.isoformat(), counts[index], start, end)
            for index, (start, end) in enumerate(spans)
        ]
    if countable == "event":
        hours = _by_hours(filters, workspace_id)
        results = _name_counts(matching) if hours is None else _hour_name_counts(hours, workspace_id)
    elif (resources := _by_resources(filters, workspace_id)) is not None:
        results = _resource_counts(_primary_counts(resources))
    else:
        grouped = _labelled(matching).annotate(n=Count("*"), **_SPAN)
        results = _resource_counts(
            (row["resource_id"], row["name"], row["n"], row["oldest"], row["latest"]) for row in grouped
        )
    results.sort(key=lambda count: (-count.count, count.label))
    return results


def _name_counts(events: QuerySet[Event]) -> list[EventCount]:
    grouped = events.values("event").annotate(n=Count("*"), oldest=Min("occurred"), latest=Max("occurred"))
    return [EventCount(row["event"], row["event"], row["n"], row["oldest"], row["latest"]) for row in grouped]


def _hour_counts(hours: _Hours, workspace_id: int) -> list[tuple[dt.datetime, int]]:
    """The window's events by hour: the whole hours' sums, and each partial hour's count
    of the names its row holds."""
    counts = list(hours.counted.values("hour").annotate(n=Sum("count")).values_list("hour", "n"))
    if partial := hours.partial():
        names = hours.named.filter(hour__in=[hour for hour, _, _ in partial]).values_list("event", flat=True)
        for counted in _in_window(sorted(set(names)), hours, workspace_id, span=False).values():
            counts += [(hour, count) for (hour, _, _), count in zip(partial, counted, strict=True)]
    return counts


def _hour_name_counts(hours: _Hours, workspace_id: int) -> list[EventCount]:
    """The window's events by name: each name's whole hours' sum plus its count in each
    partial hour, with its first and last occurrence in the window."""
    whole = Coalesce(Sum("count", filter=Q(hour__gte=hours.first, hour__lt=hours.end)), 0)
    sums = dict(hours.named.values("event").annotate(n=whole).values_list("event", "n"))
    results = []
    for name, (*partial, oldest, latest) in _in_window(sorted(sums), hours, workspace_id, span=True).items():
        if total := sums[name] + sum(partial):
            results.append(EventCount(name, name, total, _datetime(oldest), _datetime(latest)))
    return results


def _in_window(names: list[str], hours: _Hours, workspace_id: int, *, span: bool) -> dict[str, list[Any]]:
    """For each of ``names``: how many of its events each partial hour of the window holds
    and (``span``) its first and last occurrence in the window. One statement of scalar
    subqueries, each a range of the name index (read from the index alone where its pages
    are all visible), never a scan of the window's rows."""
    quote = connection.ops.quote_name
    column = quote("occurred")
    where = (
        f"FROM {_table()} WHERE {quote('workspace_id')} = %s AND {quote('event')} = %s"
        f" AND {column} >= %s AND {column} <= %s"
    )
    ranges = [(since, until) for _, since, until in hours.partial()]
    parts = [f"(SELECT COUNT(*) {where})"] * len(ranges)
    if span:
        ranges += [(hours.since, hours.until)] * 2
        parts += [f"(SELECT {column} {where} ORDER BY {column} LIMIT 1)"]
        parts += [f"(SELECT {column} {where} ORDER BY {column} DESC LIMIT 1)"]
    if not names or not parts:
        return {name: [] for name in names}
    field = Event._meta.get_field("occurred")
    prepared = [[field.get_db_prep_value(moment, connection) for moment in pair] for pair in ranges]
    params: list[Any] = []
    for name in names:
        params.append(name)
        for since, until in prepared:
            params += [workspace_id, name, since, until]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join([f"SELECT %s, {', '.join(parts)}"] * len(names)), params)
        return {name: list(values) for name, *values in cursor.fetchall()}


def _datetime(value: Any) -> dt.datetime:
    """A datetime column read by raw SQL (SQLite gives its text)."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


# Each group's first and last occurrence.
_SPAN = {"oldest": Min("occurred"), "latest": Max("occurred")}


def _labelled(matching: QuerySet[Event]) -> QuerySet[Event, dict[str, Any]]:
    """The events' primary resource ids and the name each event gives its resource."""
    names = [_json_text(_column("resource"), label) for label in NAME_LABELS]
    label_sql = f"COALESCE({', '.join(sql for sql, _ in names)}, {_column('resource_id')})"
    label_params = [param for _, params in names for param in params]
    return matching.annotate(name=RawSQL(label_sql, label_params)).values("resource_id", "name")


def _primary_counts(resources: QuerySet[EventResource]) -> list[tuple[Any, ...]]:
    """``(primary resource, name, events, oldest, latest)`` of the events the resource rows
    ``resources`` name, read from those rows alone (they carry their event's primary
    resource). An event with several of these rows is counted once: its rows are adjacent
    in the walk index's order, so each row is compared with the one before it, where a
    distinct count would sort every row by its text keys first."""
    walked = resources.order_by().annotate(
        name=Coalesce("primary_name", "primary_id"),
        previous=Window(Lag("event_seq"), order_by=[F("occurred").desc(), F("event_seq").desc()]),
    )
    sql, params = walked.values_list("primary_id", "name", "event_seq", "occurred", "previous").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT primary_id, name, SUM(CASE WHEN previous = event_seq THEN 0 ELSE 1 END), MIN(occurred), "
            f"MAX(occurred) FROM ({sql}) walked GROUP BY primary_id, name",
            params,
        )
        return cursor.fetchall()


def _resource_counts(grouped: Iterable[Sequence[Any]]) -> list[EventCount]:
    """Counts by primary resource from ``grouped`` rows ``(resource, name, events, oldest,
    latest)`` (a resource's events by the name they gave it), each labelled by the name its
    latest event gave it."""
    merged: dict[str, list[Any]] = {}
    for value, name, count, oldest, latest in grouped:
        oldest, latest = _datetime(oldest), _datetime(latest)
        entry = merged.get(value)
        if entry is None:
            merged[value] = [name, count, oldest, latest]
            continue
        if latest > entry[3]:
            entry[0], entry[3] = name, latest
        entry[1] += count
        entry[2] = min(entry[2], oldest)
    return [EventCount(value, *entry) for value, entry in merged.items()]
