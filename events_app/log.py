"""Reading the event log in commit order, from any process: what the ``/events/out``
stream delivers live, and the backfill it sends first.

A position is ``(txid, seq)`` (see the module docstring of :mod:`events_app.models`). On
PostgreSQL a read returns the rows after the position whose writing transaction is older
than every transaction of this database still running (:data:`COMMIT_HORIZON_SQL`),
ordered by ``(txid, seq)``: once a transaction is below that horizon it has committed or
rolled back, so no row can appear later before the position, and each row is read once. On SQLite writers take
turns, so ``seq`` order is commit order (``txid`` stays 0).

Nothing here is kept between calls or shared between processes: an event recorded by
another API process, another replica or the services process is read like one recorded
here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from events_app.models import Event
from events_app.selectors import events_matching

# At most this many rows per read; a reader that gets a full batch reads again at once.
READ_BATCH = 1000
# The reference's backfill: the newest 1,000 matching events (the filter's order picks
# which), sent oldest first.
BACKFILL_SIZE = 1000


# PostgreSQL: the oldest transaction that is still running and may yet commit events,
# else the next transaction id. Transaction ids are the cluster's, so the snapshot's
# running ones include other databases' (another application sharing the server, another
# test database), which never write this table: those are left out when
# ``pg_stat_activity`` shows them (their 32-bit ``backend_xid`` is the low half of the
# 64-bit id). One that cannot be placed (a role that may not see other users' sessions,
# or a transaction that just ended) is kept, which only delays a read.
COMMIT_HORIZON_SQL = (
    "COALESCE((SELECT min(running::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS running"
    " WHERE mod(running::text::bigint, 4294967296) NOT IN (SELECT backend_xid::text::bigint"
    " FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())),"
    " pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"
)


@dataclass(frozen=True)
class LogPosition:
    """The last ``(txid, seq)`` read."""

    txid: int
    seq: int


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def current_position() -> LogPosition:
    """A position from which every event committed from now on is read (an event
    committing just now may be read as well: the stream drops what it backfilled)."""
    with connection.cursor() as cursor:
        if _is_postgresql():
            cursor.execute(f"SELECT {COMMIT_HORIZON_SQL}")
            (horizon,) = cursor.fetchone()
            # Every transaction below the horizon has ended; the ones at or above it may
            # still commit rows, which the first read takes.
            return LogPosition(horizon - 1, 2**63 - 1)
        table = connection.ops.quote_name(Event._meta.db_table)
        cursor.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {table}")
        (seq,) = cursor.fetchone()
        return LogPosition(0, seq)


@dataclass(frozen=True)
class LogSnapshot:
    """Which events were committed when a subscriber joined (``pg_current_snapshot``; on
    SQLite the last ``seq``): those are not live for it, however late the process's
    reader reads them."""

    seq: int = 0
    xmin: int = 0
    xmax: int = 0
    running: frozenset[int] = frozenset()

    def holds(self, row: Event) -> bool:
        """Whether ``row`` was committed when the snapshot was taken."""
        if row.txid is None:
            return row.seq <= self.seq
        if row.txid < self.xmin:
            return True
        return row.txid < self.xmax and row.txid not in self.running


def log_snapshot() -> LogSnapshot:
    """What the log holds now (see :class:`LogSnapshot`)."""
    with connection.cursor() as cursor:
        if _is_postgresql():
            cursor.execute("SELECT pg_current_snapshot()::text")
            (text,) = cursor.fetchone()
            xmin, xmax, running = text.split(":")
            return LogSnapshot(0, int(xmin), int(xmax), frozenset(int(txid) for txid in running.split(",") if txid))
        table = connection.ops.quote_name(Event._meta.db_table)
        cursor.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {table}")
        (seq,) = cursor.fetchone()
        return LogSnapshot(seq=seq)


def events_after(position: LogPosition) -> tuple[list[Event], LogPosition]:
    """The events committed after ``position`` (at most :data:`READ_BATCH`, every
    workspace's), in commit order, and the position after them."""
    if _is_postgresql():
        rows = list(
            Event.objects.raw(
                f"SELECT * FROM {connection.ops.quote_name(Event._meta.db_table)}"
                f" WHERE txid < {COMMIT_HORIZON_SQL}"
                " AND (txid, seq) > (%s, %s) ORDER BY txid, seq LIMIT %s",
                [position.txid, position.seq, READ_BATCH],
            )
        )
    else:
        rows = list(Event.objects.filter(seq__gt=position.seq).order_by("seq")[:READ_BATCH])
    if not rows:
        return rows, position
    last = rows[-1]
    return rows, LogPosition(last.txid or 0, last.seq)


def backfill(*, filters: dict[str, Any], workspace_id: int) -> list[Event]:
    """The events a new subscriber gets first: the :data:`BACKFILL_SIZE` the filter lists
    first in its order, oldest first."""
    descending = filters.get("order", "DESC") == "DESC"
    order = ("-occurred", "-seq") if descending else ("occurred", "seq")
    rows = list(events_matching(filters=filters, workspace_id=workspace_id).order_by(*order)[:BACKFILL_SIZE])
    rows.sort(key=lambda row: (row.occurred, row.seq))
    return rows
