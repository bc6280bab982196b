"""Counts of the events an ``EventFilter`` matches, by time bucket, name or resource
(``POST /events/count-by/{countable}``): from the hourly counts where they answer the
filter exactly (:class:`~events_app.models.EventHourCount`), else from the events.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Count, F, FloatField, Max, Min, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from events_app.models import Event, EventResource
from events_app.schema import iso
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


# One group of the counted events: ``(value, label, count, start_time, end_time)``, the
# value to filter by, the label to show, and the group's first and last time as the API
# writes them (ISO text, :func:`events_app.schema.iso`). A plain tuple: a count by
# resource has thousands, read from the database in this shape.
EventCount = tuple[str, str, int, str, str]


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
            (str(index), start.isoformat(), counts[index], iso(start), iso(end))
            for index, (start, end) in enumerate(spans)
        ]
    if countable == "event":
        hours = _by_hours(filters, workspace_id)
        results = _name_counts(matching) if hours is None else _hour_name_counts(hours, workspace_id)
        results.sort(key=lambda count: (-count[2], count[1]))
        return results
    resources = _by_resources(filters, workspace_id)
    return _resource_counts(_events_by_resource(matching) if resources is None else _primaries_by_resource(resources))


def _name_counts(events: QuerySet[Event]) -> list[EventCount]:
    grouped = events.values("event").annotate(n=Count("*"), oldest=Min("occurred"), latest=Max("occurred"))
    return [(row["event"], row["event"], row["n"], iso(row["oldest"]), iso(row["latest"])) for row in grouped]


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
            results.append((name, name, total, iso(_datetime(oldest)), iso(_datetime(latest))))
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


def _labelled(matching: QuerySet[Event]) -> QuerySet[Event, dict[str, Any]]:
    """The events' primary resource ids (``value``) and the name each event gives its
    resource."""
    names = [_json_text(_column("resource"), label) for label in NAME_LABELS]
    label_sql = f"COALESCE({', '.join(sql for sql, _ in names)}, {_column('resource_id')})"
    label_params = [param for _, params in names for param in params]
    return matching.annotate(name=RawSQL(label_sql, label_params)).values("name", value=F("resource_id"))


def _events_by_resource(matching: QuerySet[Event]) -> tuple[str, list[Any]]:
    """SQL of the ``(value, name, n, oldest, latest)`` rows of the events ``matching``: each
    primary resource's events by the name they gave it."""
    grouped = _labelled(matching).annotate(n=Count("*"), oldest=Min("occurred"), latest=Max("occurred"))
    sql, params = grouped.query.sql_with_params()
    return sql, list(params)


def _primaries_by_resource(resources: QuerySet[EventResource]) -> tuple[str, list[Any]]:
    """SQL of the ``(value, name, n, oldest, latest)`` rows of the events the resource rows
    ``resources`` name, read from those rows alone (they carry their event's primary
    resource). An event with several of these rows is counted once: on PostgreSQL its
    rows are adjacent in the walk index's order, so one row per event is kept by
    comparing each with the one before it (``DISTINCT ON`` in that order), where a
    distinct count would hash or sort every row by its text keys."""
    named = resources.order_by().annotate(name=Coalesce("primary_name", "primary_id"))
    if connection.vendor == "postgresql":
        walked = named.order_by("-occurred", "-event_seq").distinct("occurred", "event_seq")
        sql, params = walked.values_list("primary_id", "name", "occurred").query.sql_with_params()
    else:
        # An event's rows carry the same primary resource, name and time.
        distinct = named.values_list("event_seq", "primary_id", "name", "occurred").distinct()
        sql, params = distinct.query.sql_with_params()
    return (
        "SELECT primary_id AS value, name, COUNT(*) AS n, MIN(occurred) AS oldest, MAX(occurred) AS latest"
        f" FROM ({sql}) walked GROUP BY primary_id, name",
        list(params),
    )


def _iso_sql(column: str) -> str:
    """SQL of the timestamp ``column`` as the API writes it (:func:`events_app.schema.iso`:
    UTC, ``+00:00``, the microseconds only when there are any)."""
    if connection.vendor == "postgresql":
        text = f"TO_CHAR({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
        return f"REPLACE({text}, '.000000', '') || '+00:00'"
    # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]' (the microseconds only when any).
    return f"REPLACE({column}, ' ', 'T') || '+00:00'"


def _resource_counts(grouped: tuple[str, list[Any]]) -> list[EventCount]:
    """Counts by primary resource from the ``grouped`` rows ``(value, name, n, oldest,
    latest)`` (a resource's events by the name they gave it), each labelled by the name
    its latest event gave it, most events first, then by label (code point order).

    The database writes the times as the API does and orders the rows, so a resource
    whose events all gave it one name (the usual case) is read as the final answer;
    only a resource named two ways has its rows merged here."""
    sql, params = grouped
    collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT value, name, n, {_iso_sql('oldest')}, {_iso_sql('latest')} FROM ({sql}) grouped"
            f" ORDER BY n DESC, name{collate}, value{collate}",
            params,
        )
        rows = cursor.fetchall()
    if len({row[0] for row in rows}) == len(rows):
        return rows
    return _merged(rows)


def _merged(rows: Iterable[Sequence[Any]]) -> list[EventCount]:
    """One count per resource from rows ``(value, name, n, oldest, latest)`` with ISO
    times, which compare as text in time order (fixed-width fields up to the seconds,
    then ``+`` sorts before ``.``: a whole second before its fractions)."""
    merged: dict[str, list[Any]] = {}
    for value, name, count, oldest, latest in rows:
        entry = merged.get(value)
        if entry is None:
            merged[value] = [name, count, oldest, latest]
            continue
        # The latest event's name; of two names last given at the same time, the first.
        if latest > entry[3] or (latest == entry[3] and name < entry[0]):
            entry[0], entry[3] = name, latest
        entry[1] += count
        entry[2] = min(entry[2], oldest)
    counts = [(value, name, count, oldest, latest) for value, (name, count, oldest, latest) in merged.items()]
    counts.sort(key=lambda count: (-count[2], count[1], count[0]))
    return counts
