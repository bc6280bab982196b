"""The trigger evaluator: reads the event log in commit order, exactly once, and evaluates
every enabled automation of each event's workspace (:mod:`automations_app.triggers`).

Exactly once, with any number of service replicas: a pass runs in one transaction that
locks the evaluator's :class:`~events_app.models.EventCursor` row first, reads the events
after it (see :mod:`events_app.models` for why that order is the commit order), and
commits every effect of those events (bucket changes, child firings, action runs, the
``prefect.automation.triggered`` events) together with the cursor's advance. A replica
that waits on the lock then starts where the other one stopped; a pass that crashes
leaves nothing behind and the next one reads the same events again.

Two services share the lock: ``triggers`` (reactive, every
``ORION_TRIGGERS_INTERVAL_MS``) and ``proactive_triggers`` (every
``ORION_TRIGGERS_PROACTIVE_INTERVAL_SECONDS``), which reads what the log holds first, then
closes the windows that ended (firing proactive triggers that saw too few events) and
drops buckets that ended more than ``ORION_TRIGGERS_EXPIRED_BUCKET_BUFFER_SECONDS`` ago.

Automations are read in each pass, so a change made through any replica applies from
the next pass on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from functools import partial
from itertools import groupby

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from automations_app.models import Automation, AutomationBucket
from automations_app.triggers.documents import IGNORED_EVENTS, EventTrigger, Trigger, event_triggers, read_trigger
from automations_app.triggers.evaluation import Evaluation, proactive_triggers
from events_app.log import COMMIT_HORIZON_SQL
from events_app.models import Event, EventCursor

logger = logging.getLogger("orion.triggers")

CONSUMER = "triggers"

# On PostgreSQL only events of transactions older than every running one are read.
_PG_LOG = (
    f"SELECT * FROM {{table}} WHERE (txid, seq) > (%s, %s) AND txid < {COMMIT_HORIZON_SQL} ORDER BY txid, seq LIMIT %s"
)
_SQLITE_LOG = "SELECT * FROM {table} WHERE seq > %s ORDER BY seq LIMIT %s"


def evaluate_triggers(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """The reactive service's pass: evaluate the events recorded since the last pass, a
    batch per transaction, until none are left or the pass has run for a second; how
    many events it read."""
    batch_size = batch_size or settings.ORION_TRIGGERS_BATCH_SIZE
    started = time.monotonic()
    read = 0
    while _log_has_news():
        with transaction.atomic():
            cursor = _locked_cursor()
            evaluation = Evaluation(_clock(now))
            done = _consume(cursor, evaluation, batch_size)
            evaluation.commit()
        read += done
        if done < batch_size or time.monotonic() - started > 1:
            break
    return read


def evaluate_proactive_triggers(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """The proactive service's pass: after the events recorded so far, close the windows
    that ended by now; how many triggers fired."""
    batch_size = batch_size or settings.ORION_TRIGGERS_BATCH_SIZE
    with transaction.atomic():
        cursor = _locked_cursor()
        clock = _clock(now)
        evaluation = Evaluation(clock)
        as_of = clock()
        if _consume(cursor, evaluation, batch_size) == batch_size:
            # Events are still waiting: judge windows as of the last one read, not now,
            # or a backlog would look like silence.
            as_of = min(as_of, _last_occurred(cursor) or as_of)
        evaluation.commit()
        buffer = dt.timedelta(seconds=settings.ORION_TRIGGERS_EXPIRED_BUCKET_BUFFER_SECONDS)
        AutomationBucket.objects.filter(end__lte=as_of - buffer).delete()
        for automation in Automation.objects.filter(enabled=True).order_by("workspace_id", "created"):
            trigger = _trigger_of(automation)
            for proactive in proactive_triggers(trigger) if trigger else ():
                _guarded(automation, partial(evaluation.proact, proactive, as_of))
        evaluation.commit()
    return evaluation.firings


def _clock(now: dt.datetime | None) -> Callable[[], dt.datetime]:
    return (lambda: now) if now is not None else timezone.now


def _log_has_news() -> bool:
    """Whether events wait after the cursor (read without a lock or a transaction, so
    an idle pass costs one small query)."""
    cursor = EventCursor.objects.filter(consumer=CONSUMER).first()
    return bool(_read_log(cursor or EventCursor(consumer=CONSUMER), 1))


def _locked_cursor() -> EventCursor:
    """The evaluator's cursor row, locked until the transaction ends (created once)."""
    cursor = EventCursor.objects.select_for_update().filter(consumer=CONSUMER).first()
    if cursor is None:
        EventCursor.objects.bulk_create([EventCursor(consumer=CONSUMER)], ignore_conflicts=True)
        cursor = EventCursor.objects.select_for_update().get(consumer=CONSUMER)
    return cursor


def _read_log(cursor: EventCursor, limit: int) -> list[Event]:
    table = connection.ops.quote_name(Event._meta.db_table)
    if connection.vendor == "postgresql":
        return list(Event.objects.raw(_PG_LOG.format(table=table), [cursor.txid, cursor.seq, limit]))
    return list(Event.objects.raw(_SQLITE_LOG.format(table=table), [cursor.seq, limit]))


def _last_occurred(cursor: EventCursor) -> dt.datetime | None:
    return Event.objects.filter(seq=cursor.seq).values_list("occurred", flat=True).first()


def _consume(cursor: EventCursor, evaluation: Evaluation, batch_size: int) -> int:
    """Evaluate the next events of the log and advance the cursor past them."""
    events = _read_log(cursor, batch_size)
    if not events:
        return 0
    for workspace_id, group in groupby(sorted(events, key=lambda event: event.workspace_id), lambda e: e.workspace_id):
        _react(evaluation, workspace_id, sorted(group, key=lambda event: (event.txid or 0, event.seq)))
    last = events[-1]
    cursor.txid, cursor.seq = last.txid or 0, last.seq
    cursor.save(update_fields=["txid", "seq", "updated"])
    return len(events)


def _react(evaluation: Evaluation, workspace_id: int, events: list[Event]) -> None:
    """Evaluate a workspace's events, in log order, against its enabled automations."""
    triggers: list[tuple[Automation, list[EventTrigger]]] = []
    for automation in Automation.objects.filter(workspace_id=workspace_id, enabled=True).order_by("created"):
        trigger = _trigger_of(automation)
        if trigger is not None:
            triggers.append((automation, list(event_triggers(trigger))))
    if not triggers:
        return
    for event in events:
        if event.event in IGNORED_EVENTS:
            continue
        for automation, automation_triggers in triggers:
            _guarded(automation, partial(evaluation.react, automation_triggers, event))


def _trigger_of(automation: Automation) -> Trigger | None:
    try:
        return read_trigger(automation, automation.trigger)
    except (KeyError, TypeError, ValueError):
        logger.exception("Automation %s has a trigger this server cannot read; it is skipped", automation.id)
        return None


def _guarded(automation: Automation, work: Callable[[], None]) -> None:
    """Run one automation's evaluation; a fault in it is logged and does not hold up the
    others (a database error still ends the pass, which then rolls back and is retried)."""
    try:
        work()
    except DatabaseError:
        raise
    except Exception:
        logger.exception("Evaluating automation %s failed", automation.id)
