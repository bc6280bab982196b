"""The event log: one row per event, one row per resource an event names, and the cursors
of the consumers that read the log in order.

Events are the highest-volume table, written in the same transaction as the change they
record (a state, a deployment's status). So every write is plain SQL of a fixed shape
(:mod:`events_app.services.record`), and the table has no foreign-key constraint.

Reading the log in order, exactly once, from several processes: ``seq`` is given at
insert time, but on PostgreSQL transactions commit in another order than they take
numbers, so a reader that saw ``seq`` 10 may later see 9 appear. Each row therefore
also carries ``txid``, the id of the transaction that wrote it; a consumer reads only
rows whose transaction is older than every transaction of the database still running
(``events_app.log.COMMIT_HORIZON_SQL``), in ``(txid, seq)`` order, and keeps its position in
:class:`EventCursor`, so nothing is skipped and nothing is read twice. SQLite has one
writer at a time, so there ``seq`` order is commit order and ``txid`` stays null.
"""

from __future__ import annotations

from django.db import models

from orion_project.models import Workspace


class Event(models.Model):
    """One event as received: the API's ``ReceivedEvent`` (``id`` is :attr:`uuid`)."""

    seq = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    # The event's id as clients send and read it; a second event with the same id is a
    # duplicate delivery and is dropped.
    uuid = models.UUIDField()
    # The writing transaction (PostgreSQL), for readers that must see the log in commit order.
    txid = models.BigIntegerField(null=True, blank=True)
    occurred = models.DateTimeField()
    event = models.CharField(max_length=1024)
    resource_id = models.TextField()
    resource = models.JSONField()
    related = models.JSONField(default=list)
    payload = models.JSONField(default=dict)
    received = models.DateTimeField()
    follows = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "uuid"], name="uq_event_workspace_uuid")]
        indexes = [
            models.Index(fields=["workspace", "-occurred"], name="ix_event_ws_occurred"),
            models.Index(fields=["workspace", "event", "-occurred"], name="ix_event_ws_name_occurred"),
            models.Index(fields=["workspace", "resource_id", "-occurred"], name="ix_event_ws_resource"),
            models.Index(fields=["txid", "seq"], name="ix_event_txid_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.resource_id}"


class EventResource(models.Model):
    """A resource an event names: its primary resource (``role`` empty) and each related
    one (``role`` from ``prefect.resource.role``). Filters by related resource and by
    ``any_resource`` read this table through its index, newest first.

    Each row also carries the event's primary resource (its id and its name label), so
    counting a related resource's events by primary resource reads this index alone,
    not each event's row."""

    seq = models.BigAutoField(primary_key=True)
    workspace_id = models.IntegerField()
    event_seq = models.BigIntegerField(db_index=True)
    occurred = models.DateTimeField()
    resource_id = models.TextField()
    role = models.TextField(blank=True, default="")
    # A default in the database too: a server of the previous release, still writing while
    # the migration runs, leaves it empty rather than failing.
    primary_id = models.TextField(blank=True, default="", db_default="")
    # ``prefect.resource.name`` (else ``prefect.name``) of the primary resource, if any.
    primary_name = models.TextField(null=True, blank=True)

    class Meta:
        indexes = [
            # The event and the role in the index, in the page order: counting a resource's
            # events and walking them newest first read the index alone, not a row each.
            models.Index(
                fields=["workspace_id", "resource_id", "-occurred", "-event_seq", "role"],
                include=["primary_id", "primary_name"],
                name="ix_evres_walk_primary",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role or 'resource'} {self.resource_id}"


class EventHourCount(models.Model):
    """How many events of one name a workspace holds in one hour (UTC) of occurrence.

    Counting a week of a busy workspace's events row by row costs what the week holds;
    summing its hours costs what the week's names are. ``record_events`` adds to these
    rows in the transaction that stores the events (the duplicates it drops are not
    counted) and retention takes the events it deletes away in the transaction that
    deletes them, so a sum of rows always equals counting the events. Reads that only
    filter by occurrence and name sum the whole hours of their window here and count the
    partial hours at its ends from the events (:mod:`events_app.rollup`).
    """

    seq = models.BigAutoField(primary_key=True)
    workspace_id = models.IntegerField()
    hour = models.DateTimeField()
    event = models.CharField(max_length=1024)
    count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace_id", "hour", "event"], name="uq_event_hour_count"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.hour:%Y-%m-%d %H}h: {self.count}"


class EventCursor(models.Model):
    """How far one consumer (the trigger evaluator, ...) has read the log: the last
    ``(txid, seq)`` it processed. Its row is locked while a pass runs, so with several
    service replicas one of them reads at a time and each event is handled once."""

    consumer = models.CharField(max_length=64, primary_key=True)
    txid = models.BigIntegerField(default=0)
    seq = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.consumer
