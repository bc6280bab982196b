"""Reads of the event log: the events an ``EventFilter`` matches and a page of them
(their counts by time bucket, name or resource: :mod:`events_app.selectors.counts`).

Every read takes the validated filter body (``filters``: the shape
``events_app.api.serializers.EventFilterSerializer`` returns) and ``workspace_id``. The
common shapes are answered through the indexes that lead with the workspace: the
occurred window newest first, the event name (exact or by prefix), the primary resource
id, and, through :class:`~events_app.models.EventResource`, the related resources and
``any_resource``. Label filters (``!`` negates, a trailing ``*`` is a prefix) read the
labels stored with the event, as JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Count, F, Q, QuerySet, Subquery, Sum, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, RowNumber

from events_app.models import Event, EventHourCount, EventResource
from events_app.services.hour_counts import HOUR, hour_of
from events_app.services.record import RESOURCE_ID_LABEL, RESOURCE_ROLE_LABEL

Sql = tuple[str, list[Any]]


# ---------------------------------------------------------------------------- matching


@cache
def _codepoint_order() -> bool:
    """Whether text columns sort by code point (SQLite's BINARY, PostgreSQL's C
    collations), so that a prefix is a range an index serves."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        (collation,) = cursor.fetchone()
    return collation.split(".")[0] in ("C", "POSIX")


def _successor(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix``."""
    for index in range(len(prefix) - 1, -1, -1):
        if ord(prefix[index]) < 0x10FFFF:
            return prefix[:index] + chr(ord(prefix[index]) + 1)
    return None


def starts_with(field: str, prefix: str) -> Q:
    """``field`` begins with ``prefix``, case-sensitively on both databases, as a range an
    index serves where the text order allows it."""
    if not prefix:
        return Q()
    if _codepoint_order():
        upper = _successor(prefix)
        return Q(**{f"{field}__gte": prefix}) & (Q(**{f"{field}__lt": upper}) if upper else Q())
    return Q(**{f"{field}__startswith": prefix})


def _any_prefix(field: str, prefixes: Sequence[str]) -> Q:
    query = Q(pk__in=[])
    for prefix in prefixes:
        query |= starts_with(field, prefix)
    return query


@dataclass
class _Labels:
    """A label's wanted values split as the reference splits them: plain and ``*``
    prefixes, each wanted or (``!``) unwanted."""

    simple: list[str]
    prefixes: list[str]
    not_simple: list[str]
    not_prefixes: list[str]

    @classmethod
    def of(cls, values: Sequence[str]) -> _Labels:
        split = cls([], [], [], [])
        for value in values:
            negative = value.startswith("!")
            value = value[1:] if negative else value
            if value.endswith("*"):
                (split.not_prefixes if negative else split.prefixes).append(value.rstrip("*"))
            else:
                (split.not_simple if negative else split.simple).append(value)
        return split


def _json_text(document: str, label: str) -> Sql:
    """SQL of the text value of ``label`` in the JSON object ``document``."""
    if connection.vendor == "postgresql":
        return f"({document} ->> %s)", [label]
    return f"json_extract({document}, %s)", ['$."' + label.replace('"', '\\"') + '"']


def _prefix_sql(column: str, params: list[Any], prefix: str) -> Sql:
    if connection.vendor == "postgresql":
        return f"starts_with({column}, %s)", [*params, prefix]
    return f"substr({column}, 1, %s) = %s", [*params, len(prefix), prefix]


def _label_sql(document: str, spec: dict[str, list[str]], *, id_sql: Sql, role_sql: Sql | None) -> Sql:
    """SQL that holds when the resource ``document`` (a JSON object) matches every label
    of ``spec``; its id is the expression ``id_sql``, its role ``role_sql`` (``None``:
    the primary resource, which has none)."""
    parts: list[str] = []
    params: list[Any] = []
    for label, values in spec.items():
        if label == RESOURCE_ROLE_LABEL and role_sql is not None:
            parts.append(f"{role_sql[0]} IN ({', '.join(['%s'] * len(values))})" if values else "1 = 0")
            params.extend([*role_sql[1], *values])
            continue
        column, column_params = id_sql if label == RESOURCE_ID_LABEL else _json_text(document, label)
        split = _Labels.of(values)
        if split.not_simple or split.not_prefixes:
            # A resource without the label does not match a negated value.
            parts.append(f"{column} IS NOT NULL")
            params.extend(column_params)
        for values_in, operator in ((split.simple, "IN"), (split.not_simple, "NOT IN")):
            if values_in:
                parts.append(f"{column} {operator} ({', '.join(['%s'] * len(values_in))})")
                params.extend([*column_params, *values_in])
        for prefix, negated in [(p, "") for p in split.prefixes] + [(p, "NOT ") for p in split.not_prefixes]:
            sql, prefix_params = _prefix_sql(column, column_params, prefix)
            parts.append(f"{negated}{sql}")
            params.extend(prefix_params)
    return " AND ".join(f"({part})" for part in parts) or "1 = 1", params


def _table() -> str:
    return connection.ops.quote_name(Event._meta.db_table)


def _column(name: str) -> str:
    return f"{_table()}.{connection.ops.quote_name(name)}"


def _related_exists(*specs: dict[str, list[str]]) -> Sql:
    """SQL: one of the event's related resources matches every one of ``specs``."""
    if connection.vendor == "postgresql":
        source = f"jsonb_array_elements({_column('related')}) AS element(value)"
    else:
        source = f"json_each({_column('related')}) AS element"
    element = "element.value"
    id_sql, role_sql = _json_text(element, RESOURCE_ID_LABEL), _json_text(element, RESOURCE_ROLE_LABEL)
    conditions = [_label_sql(element, spec, id_sql=id_sql, role_sql=role_sql) for spec in specs]
    condition = " AND ".join(sql for sql, _ in conditions)
    return f"EXISTS (SELECT 1 FROM {source} WHERE {condition})", [param for _, params in conditions for param in params]


def _resource_labels(spec: dict[str, list[str]]) -> tuple[str, list[Any]]:
    """SQL: the event's primary resource matches ``spec``."""
    return _label_sql(_column("resource"), spec, id_sql=(_column("resource_id"), []), role_sql=None)


def _where(sql: str, params: list[Any]) -> Q:
    return Q(RawSQL(sql, params, output_field=BooleanField()))


def _resources(filters: dict[str, Any], workspace_id: int, condition: Q) -> QuerySet[EventResource]:
    """The rows of the resources that meet ``condition`` named by events of the filter's
    window: read through the resource index."""
    occurred = filters["occurred"]
    return EventResource.objects.filter(
        condition,
        workspace_id=workspace_id,
        occurred__gte=occurred["since"],
        occurred__lte=occurred["until"],
    )


def events_matching(*, filters: dict[str, Any], workspace_id: int) -> QuerySet[Event]:
    """The events of ``workspace_id`` that ``filters`` (an ``EventFilter``) matches."""
    occurred = filters["occurred"]
    query = Q(workspace_id=workspace_id, occurred__gte=occurred["since"], occurred__lte=occurred["until"])
    query &= _name_query(filters)
    if resource := filters.get("resource"):
        if resource.get("id"):
            query &= Q(resource_id__in=resource["id"])
        if resource.get("id_prefix"):
            query &= _any_prefix("resource_id", resource["id_prefix"])
        if resource.get("labels"):
            query &= _where(*_resource_labels(resource["labels"]))
    if related := filters.get("related"):
        query &= _related_query(related, filters, workspace_id)
    if any_resource := filters.get("any_resource"):
        query &= _any_resource_query(any_resource, filters, workspace_id)
    if ids := (filters.get("id") or {}).get("id"):
        query &= Q(uuid__in=ids)
    return Event.objects.filter(query)


def _name_query(filters: dict[str, Any]) -> Q:
    """The filter's conditions on the event name (the ``event`` field of an
    :class:`~events_app.models.Event` and of an :class:`~events_app.models.EventHourCount`)."""
    query = Q()
    if name := filters.get("event"):
        if name.get("prefix"):
            query &= _any_prefix("event", name["prefix"])
        for prefix in name.get("exclude_prefix") or ():
            query &= ~starts_with("event", prefix)
        if name.get("name"):
            query &= Q(event__in=name["name"])
        if name.get("exclude_name"):
            query &= ~Q(event__in=name["exclude_name"])
    return query


def _related_query(related: dict[str, Any], filters: dict[str, Any], workspace_id: int) -> Q:
    """A related resource (never the primary one, unless roles are named) meets every
    criterion given, the same resource for all of them."""
    condition = _related_condition(related)
    labels = related.get("labels")
    query = Q()
    if condition:
        query &= Q(seq__in=_resources(filters, workspace_id, condition).values("event_seq"))
    if labels:
        # The labels, the ids and the roles asked for hold of one and the same related resource.
        named = {RESOURCE_ID_LABEL: related.get("id") or [], RESOURCE_ROLE_LABEL: related.get("role") or []}
        query &= _where(*_related_exists(labels, {label: values for label, values in named.items() if values}))
    return query


def _related_condition(related: dict[str, Any]) -> Q:
    """What the :class:`~events_app.models.EventResource` row of a related resource meets
    (an empty ``Q``: the filter names no id or role)."""
    condition = Q()
    if related.get("id"):
        condition &= Q(resource_id__in=related["id"])
    if related.get("role"):
        condition &= Q(role__in=related["role"])
    if pairs := related.get("resources_in_roles"):
        either = Q(pk__in=[])
        for resource_id, role in pairs:
            either |= Q(resource_id=resource_id, role=role)
        condition &= either
    if condition and not related.get("role"):
        condition &= ~Q(role="")
    return condition


def _any_resource_query(any_resource: dict[str, Any], filters: dict[str, Any], workspace_id: int) -> Q:
    condition = _any_resource_condition(any_resource)
    query = Q(seq__in=_resources(filters, workspace_id, condition).values("event_seq")) if condition else Q()
    if labels := any_resource.get("labels"):
        resource_sql, resource_params = _resource_labels(labels)
        related_sql, related_params = _related_exists(labels)
        query &= _where(f"(({resource_sql}) OR ({related_sql}))", [*resource_params, *related_params])
    return query


def _any_resource_condition(any_resource: dict[str, Any]) -> Q:
    condition = Q()
    if any_resource.get("id"):
        condition &= Q(resource_id__in=any_resource["id"])
    if any_resource.get("id_prefix"):
        condition &= _any_prefix("resource_id", any_resource["id_prefix"])
    return condition


def _by_resources(filters: dict[str, Any], workspace_id: int) -> QuerySet[EventResource] | None:
    """The resource rows that alone decide ``filters``, when they do: the filter names only
    the window, the order and the ids or roles of the related resources (or of any
    resource), so each matching event has one or more of these rows (same ``occurred``)
    and a page walks their index newest first; else ``None``."""
    given = {key for key, value in filters.items() if key not in ("occurred", "order") and _given(value)}
    if given == {"related"} and not filters["related"].get("labels"):
        condition = _related_condition(filters["related"])
    elif given == {"any_resource"} and not filters["any_resource"].get("labels"):
        condition = _any_resource_condition(filters["any_resource"])
    else:
        return None
    return _resources(filters, workspace_id, condition) if condition else None


# ------------------------------------------------------------------------ hour counts


@dataclass(frozen=True)
class _Hours:
    """A filter's window split for :class:`~events_app.models.EventHourCount`: the whole
    hours ``first`` .. ``end`` (exclusive) summed from the table, and the events of the
    partial hours at either end (``edges``: ``since`` .. ``first`` and ``end`` ..
    ``until``) read from the log. ``named`` holds the table's rows of every hour the
    window touches, partial ones too: the names its events can have."""

    first: dt.datetime
    end: dt.datetime
    counted: QuerySet[EventHourCount]
    edges: QuerySet[Event]
    since: dt.datetime
    until: dt.datetime
    named: QuerySet[EventHourCount]

    def partial(self) -> list[tuple[dt.datetime, dt.datetime, dt.datetime]]:
        """The partial hours: each one's start, and the window's part of it (its first
        and last instant)."""
        ranges = []
        if self.since < self.first:
            ranges.append((hour_of(self.since), self.since, self.first - _MICROSECOND))
        if self.end <= self.until:
            ranges.append((self.end, self.end, self.until))
        return ranges


_MICROSECOND = dt.timedelta(microseconds=1)
# The start of the calendar's last hour: a window ending there has no next hour to count to.
_LAST_HOUR = dt.datetime.max.replace(minute=0, second=0, microsecond=0, tzinfo=dt.UTC)


def _by_hours(filters: dict[str, Any], workspace_id: int) -> _Hours | None:
    """The split of ``filters``' events, when the table answers it exactly: the filter
    names only the window, event names and the order, and the window holds a whole hour;
    else ``None`` (the events are read)."""
    if any(_given(value) for key, value in filters.items() if key not in ("occurred", "event", "order")):
        return None
    occurred = filters["occurred"]
    since, until = occurred["since"], occurred["until"]
    # The hours wholly inside the window; at the calendar's ends (no hour after the last
    # one) a cut hour is simply read from the events.
    if (start := hour_of(since)) == since:
        first = start
    elif start < _LAST_HOUR:
        first = start + HOUR
    else:
        return None
    end = (
        hour_of(until) + HOUR
        if until - hour_of(until) == HOUR - _MICROSECOND and until < _LAST_HOUR
        else hour_of(until)
    )
    if first >= end:
        return None
    named = EventHourCount.objects.filter(
        _name_query(filters), workspace_id=workspace_id, hour__gte=hour_of(since), hour__lte=hour_of(until)
    )
    counted = named.filter(hour__gte=first, hour__lt=end)
    edges = events_matching(filters=filters, workspace_id=workspace_id).filter(
        Q(occurred__lt=first) | Q(occurred__gte=end)
    )
    return _Hours(first, end, counted, edges.order_by(), since, until, named)


def _given(value: Any) -> bool:
    """Whether a part of a filter asks for anything (``resource: {"distinct": false}`` does not)."""
    if isinstance(value, dict):
        return any(_given(item) for item in value.values())
    return bool(value)


# ------------------------------------------------------------------------------ pages


@dataclass(frozen=True)
class EventPage:
    """One page of events, how many match in all, and where the next page starts
    (``None``: this was the last)."""

    events: list[Event]
    total: int
    next_position: dict[str, Any] | None


def _ordered(queryset: QuerySet[Event], filters: dict[str, Any]) -> QuerySet[Event]:
    descending = filters.get("order", "DESC") == "DESC"
    order = ("-occurred", "-seq") if descending else ("occurred", "seq")
    distinct = (filters.get("resource") or {}).get("distinct")
    if distinct:
        first = Window(RowNumber(), partition_by=[F("resource_id")], order_by=list(order))
        queryset = queryset.annotate(resource_rank=first).filter(resource_rank=1)
    return queryset.order_by(*order)


def _total(queryset: QuerySet[Event], filters: dict[str, Any], workspace_id: int) -> int:
    if (filters.get("resource") or {}).get("distinct"):
        return queryset.values("resource_id").distinct().count()
    if (resources := _by_resources(filters, workspace_id)) is not None:
        return resources.values("event_seq").distinct().count()
    hours = _by_hours(filters, workspace_id)
    if hours is None:
        return queryset.count()
    # One statement: the whole hours' sum and the partial hours' count.
    edges = hours.edges.values("workspace_id").annotate(n=Count("*")).values("n")
    return hours.counted.aggregate(n=Coalesce(Sum("count"), 0) + Coalesce(Subquery(edges[:1]), 0))["n"]


def events_page(
    *, filters: dict[str, Any], limit: int, workspace_id: int, position: dict[str, Any] | None = None
) -> EventPage:
    """The page of ``limit`` events ``filters`` matches, first (``position`` ``None``) or
    from a previous page's ``next_position`` (which carries the total, counted once)."""
    matching = events_matching(filters=filters, workspace_id=workspace_id)
    total = _total(matching, filters, workspace_id) if position is None else position["total"]
    offset = 0 if position is None else position["offset"]
    ids = (filters.get("id") or {}).get("id")
    if ids:
        limit = min(limit, len(ids))
    ordered = _ordered(matching, filters)
    descending = filters.get("order", "DESC") == "DESC"
    resources = _by_resources(filters, workspace_id)
    if position is not None and position.get("after") and not (filters.get("resource") or {}).get("distinct"):
        # Keyset: the rows after the last one shown, so a deep page costs what the first does.
        occurred, seq = dt.datetime.fromisoformat(position["after"][0]), position["after"][1]
        beyond = _beyond(occurred, seq, descending)
        if resources is not None:
            later = resources.filter(_beyond(occurred, seq, descending, "event_seq"))
            rows = _page_by_resources(ordered, later, limit, total - offset)
        else:
            rows = list(ordered.filter(beyond)[:limit])
    elif resources is not None and offset == 0:
        rows = _page_by_resources(ordered, resources, limit, total)
    else:
        rows = list(ordered[offset : offset + limit])
    next_offset = offset + limit
    following = None
    if next_offset < total and rows:
        last = rows[-1]
        following = {"total": total, "offset": next_offset, "after": [last.occurred.isoformat(), last.seq]}
    return EventPage(rows, total, following)


def _beyond(occurred: dt.datetime, seq: int, descending: bool, seq_field: str = "seq") -> Q:
    """The rows after ``(occurred, seq)`` in the page order."""
    if descending:
        return Q(occurred__lt=occurred) | Q(occurred=occurred, **{f"{seq_field}__lt": seq})
    return Q(occurred__gt=occurred) | Q(occurred=occurred, **{f"{seq_field}__gt": seq})


def _page_by_resources(
    ordered: QuerySet[Event], resources: QuerySet[EventResource], limit: int, wanted: int
) -> list[Event]:
    """The first ``limit`` events of ``resources`` (which decide the filter) in the page
    order, of which ``wanted`` remain by the total: the events of their first ``limit``
    rows, read down the resource index in one statement. An event with two matching rows
    counts once, so when that leaves the page short of ``wanted``, more rows are taken
    until it is full or the rows run out."""
    descending = str(ordered.query.order_by[0]).startswith("-")
    order = ("-occurred", "-event_seq") if descending else ("occurred", "event_seq")
    walked = resources.order_by(*order)
    taken = limit
    while True:
        rows = list(ordered.filter(seq__in=Subquery(walked.values("event_seq")[:taken]))[:limit])
        if len(rows) >= min(limit, wanted) or not walked[taken : taken + 1].exists():
            return rows
        taken *= 2
