"""The pass of the actions service: take due ``ActionRun`` rows, run each once, record
the outcome and its events.

Exactly once across service replicas:

- PostgreSQL: each action runs in one transaction holding its row (``FOR UPDATE SKIP
  LOCKED``, so another replica takes the next row instead of waiting). What the action
  wrote, its events and its new status commit together; a crash rolls all of it back and
  the row is taken again.
- SQLite (one writer, no row locks): a short transaction claims the row by moving its
  ``next_attempt_at`` to the end of a lease (``ORION_ACTIONS_LEASE_SECONDS``) with a
  conditional UPDATE that only one runner can win; the action then runs in its own
  transactions and the outcome is recorded only by the runner whose lease it still is.
  A runner that dies mid-action leaves the row to be taken again when the lease ends.

An action that fails for a passing reason (network, a notification service's 5xx, the
database) is tried again after ``ORION_ACTIONS_RETRY_SECONDS`` doubled at each attempt, up
to ``ORION_ACTIONS_MAX_ATTEMPTS``; one that cannot succeed fails at once, as in the
reference. The outcome is recorded as ``prefect.automation.action.triggered`` followed by
``.executed`` or ``.failed``, in the same transaction as the row's final status.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from automations_app.actions.invocation import RESOURCE_ID, ActionFailed, Invocation
from automations_app.actions.kinds import ACTIONS
from automations_app.models import ActionRun
from events_app.services.record import emit

logger = logging.getLogger("orion.actions")

# Claims a runner on SQLite tries before leaving the rest of the rows to the next pass.
_CLAIM_TRIES = 3
# How long one pass may keep taking due actions before the loop's other services get their turn.
_PASS_SECONDS = 1.0


def run_due_actions(*, now: dt.datetime | None = None, limit: int | None = None) -> int:
    """Run the due actions of every workspace, each at most once in this pass (a retried
    one waits for a later pass), until none is left, ``limit`` ran, or the pass has run
    for a second (as the trigger evaluator's pass, so a burst of firings is drained at the
    rate actions run rather than a fixed number per interval); how many ran."""
    ran: set[uuid.UUID] = set()
    started = time.monotonic()
    while run_next_action(now=now, ran=ran):
        if len(ran) == limit or time.monotonic() - started >= _PASS_SECONDS:
            break
    return len(ran)


def run_next_action(*, now: dt.datetime | None = None, ran: set[uuid.UUID] | None = None) -> bool:
    """Run the next due action not in ``ran``, if any (adding it there); whether there was one."""
    now = now or timezone.now()
    ran = set() if ran is None else ran
    if connection.vendor == "postgresql":
        with transaction.atomic():
            run = _due(now, ran).select_for_update(skip_locked=True).first()
            if run is None:
                return False
            ran.add(run.pk)
            run.attempts += 1
            _run_and_record(run, lease=None)
        return True
    claimed = _claim(now, ran)
    if claimed is None:
        return False
    run, lease = claimed
    ran.add(run.pk)
    _run_and_record(run, lease=lease)
    return True


def _due(now: dt.datetime, ran: set[uuid.UUID]) -> QuerySet[ActionRun]:
    due = ActionRun.objects.filter(status=ActionRun.Status.PENDING, next_attempt_at__lte=now)
    return due.exclude(pk__in=ran).order_by("next_attempt_at", "created")


def _claim(now: dt.datetime, ran: set[uuid.UUID]) -> tuple[ActionRun, dt.datetime] | None:
    """Take a due row for the length of a lease (see the module docstring); the row and
    the lease's end, which is the claim's token."""
    for _ in range(_CLAIM_TRIES):
        with transaction.atomic():
            run = _due(now, ran).first()
            if run is None:
                return None
            lease = timezone.now() + dt.timedelta(seconds=settings.ORION_ACTIONS_LEASE_SECONDS)
            taken = ActionRun.objects.filter(
                pk=run.pk, status=ActionRun.Status.PENDING, next_attempt_at=run.next_attempt_at
            ).update(next_attempt_at=lease, attempts=F("attempts") + 1)
        if taken:
            run.attempts += 1
            run.next_attempt_at = lease
            return run, lease
    return None


def _run_and_record(run: ActionRun, *, lease: dt.datetime | None) -> None:
    invocation = Invocation.from_row(run)
    failure = _perform(invocation)
    now = timezone.now()
    if failure is not None and failure.retryable and run.attempts < settings.ORION_ACTIONS_MAX_ATTEMPTS:
        delay = settings.ORION_ACTIONS_RETRY_SECONDS * 2 ** (run.attempts - 1)
        logger.info("Action %s failed (%s); attempt %d in %ss", run.id, failure.reason, run.attempts + 1, delay)
        _update(run, lease, next_attempt_at=now + dt.timedelta(seconds=delay), last_error=failure.reason)
        return
    status = ActionRun.Status.DONE if failure is None else ActionRun.Status.FAILED
    with transaction.atomic():
        if not _update(run, lease, status=status, last_error=failure.reason if failure else ""):
            return
        _emit_outcome(invocation, failure)
    if failure is not None:
        logger.warning("Action %s failed: %s", run.id, failure.reason)


def _perform(invocation: Invocation) -> ActionFailed | None:
    """Run the action; its failure, if it failed.

    On PostgreSQL it runs in a savepoint of the row's transaction, so a failed action's
    writes are undone. On SQLite every transaction takes the database's one write lock
    when it begins, so the action runs outside one (each service call it makes is its own
    transaction) and a webhook's wait never holds the API's writers back.
    """
    action = ACTIONS.get(str(invocation.action.get("type")))
    scope = transaction.atomic() if connection.vendor == "postgresql" else contextlib.nullcontext()
    try:
        with scope:
            if action is None:
                raise ActionFailed(f"Unknown action type {invocation.action.get('type')!r}")
            action(invocation)
    except ActionFailed as exc:
        invocation.details.update(exc.details)
        return exc
    except DatabaseError as exc:
        return ActionFailed(f"Action failed: {exc!r}", retryable=True)
    except Exception as exc:
        logger.exception("Action %s raised", invocation.id)
        return ActionFailed(f"Action failed: {exc!r}", retryable=True)
    return None


def _update(run: ActionRun, lease: dt.datetime | None, **fields: object) -> bool:
    """Write the row's outcome; ``False`` when its lease has passed to another runner."""
    rows = ActionRun.objects.filter(pk=run.pk)
    if lease is not None:
        rows = rows.filter(next_attempt_at=lease)
    return rows.update(attempts=run.attempts, **fields) > 0


def _emit_outcome(invocation: Invocation, failure: ActionFailed | None) -> None:
    """``action.triggered`` (at the firing's time, after its triggering event) and then
    ``action.executed`` or ``action.failed``, about the automation."""
    automation = invocation.automation
    trigger = automation.get("trigger") or {}
    resource = {
        RESOURCE_ID: f"prefect.automation.{invocation.automation_id}",
        "prefect.resource.name": str(automation.get("name") or ""),
        "prefect.trigger-type": str(trigger.get("type") or ""),
    }
    if trigger.get("type") == "event":
        resource["prefect.posture"] = str(trigger.get("posture") or "Reactive")
    details = {
        "action_index": invocation.action_index,
        "action_type": invocation.action.get("type"),
        "invocation": str(invocation.id),
    }
    event = invocation.triggering_event or {}
    triggering_event_id = _uuid_or_none(event.get("id"))
    triggered_id = emit(
        workspace_id=invocation.workspace_id,
        event="prefect.automation.action.triggered",
        resource=resource,
        related=invocation.related,
        payload=details,
        occurred=invocation.triggered,
        follows=triggering_event_id,
    )
    outcome = {**details, **({"reason": failure.reason} if failure else {}), **invocation.details}
    emit(
        workspace_id=invocation.workspace_id,
        event="prefect.automation.action.failed" if failure else "prefect.automation.action.executed",
        resource=resource,
        related=invocation.related,
        payload=outcome,
        follows=triggered_id,
    )


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
