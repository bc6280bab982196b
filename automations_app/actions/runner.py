"""The pass of the actions service: take due ``ActionRun`` rows, run each once, record
the outcome and its events.

Exactly once across service replicas:

- PostgreSQL: a batch of due rows (at most :data:`_BATCH_SIZE`, run for at most
  :data:`_BATCH_SECONDS`) is taken in one transaction that holds them (``FOR UPDATE SKIP
  LOCKED``, so another replica takes the next rows instead of waiting). Each action runs in
  a savepoint, so a failed one's writes are undone and the others' stay; then one
  statement per workspace writes every row's outcome and the batch's events. What the
  actions wrote, their events and their new statuses commit together; a crash rolls all
  of it back and the rows are taken again. A batch is what lets the runner keep up with a
  burst of firings: the claim, the outcomes and the events cost a round trip per batch,
  not per action.
- SQLite (one writer, no row locks): a short transaction claims a batch of rows by moving
  their ``next_attempt_at`` to the end of a lease (``ORION_ACTIONS_LEASE_SECONDS``), each
  with a conditional UPDATE that only one runner can win; the actions then run in their
  own transactions, and one more transaction records the outcomes and events of the rows
  whose lease is still this runner's. A runner that dies mid-batch leaves its rows to be
  taken again when the lease ends. Two transactions per batch rather than two per action
  is what keeps the one write lock free for the API.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from automations_app.actions.invocation import RESOURCE_ID, ActionFailed, Invocation
from automations_app.actions.kinds import ACTIONS, WITHOUT_DATABASE
from automations_app.models import ActionRun
from events_app.services.record import NewEvent, record_events, record_events_with

logger = logging.getLogger("orion.actions")

# How long one pass may keep taking due actions before the loop's other services get their turn.
_PASS_SECONDS = 1.0
# The most rows a batch takes, and how long it goes on starting actions before it records
# their outcomes (a slow webhook holds back the outcomes of those run before it).
_BATCH_SIZE = 100
_BATCH_SECONDS = 0.25


@dataclass
class _Ran:
    """An action run in this pass and what came of it; ``finished`` is when it ended."""

    run: ActionRun
    invocation: Invocation
    failure: ActionFailed | None
    finished: dt.datetime

    @property
    def retry(self) -> bool:
        """Whether it failed for a passing reason and has attempts left."""
        return (
            self.failure is not None
            and self.failure.retryable
            and self.run.attempts < settings.ORION_ACTIONS_MAX_ATTEMPTS
        )


@dataclass
class _Pass:
    """One pass of the service: what it ran, and whether it may start another action."""

    now: dt.datetime | None
    limit: int | None
    ran: set[uuid.UUID] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)

    def may_go_on(self) -> bool:
        return len(self.ran) != self.limit and time.monotonic() - self.started < _PASS_SECONDS

    def batch_size(self) -> int:
        return _BATCH_SIZE if self.limit is None else min(_BATCH_SIZE, self.limit - len(self.ran))

    def run_each(self, runs: Sequence[ActionRun]) -> list[_Ran]:
        """Run ``runs`` in order, until the pass or the batch is out of time; what came of
        those that ran."""
        started = time.monotonic()
        outcomes = []
        for run in runs:
            self.ran.add(run.pk)
            outcomes.append(_run(run))
            if not self.may_go_on() or time.monotonic() - started >= _BATCH_SECONDS:
                break
        return outcomes

    def due(self) -> QuerySet[ActionRun]:
        """The due rows this pass has not run yet, longest waiting first."""
        due = ActionRun.objects.filter(status=ActionRun.Status.PENDING, next_attempt_at__lte=self.now or timezone.now())
        return due.exclude(pk__in=self.ran).order_by("next_attempt_at", "created")


def run_due_actions(*, now: dt.datetime | None = None, limit: int | None = None) -> int:
    """Run the due actions of every workspace, each at most once in this pass (a retried
    one waits for a later pass), until none is left, ``limit`` ran, or the pass has run
    for a second (as the trigger evaluator's pass, so a burst of firings is drained at the
    rate actions run rather than a fixed number per interval); how many ran."""
    this_pass = _Pass(now, limit)
    run_next = _run_batch if connection.vendor == "postgresql" else _run_leased_batch
    while run_next(this_pass) and this_pass.may_go_on():
        pass
    return len(this_pass.ran)


# ------------------------------------------------------------------ PostgreSQL


def _run_batch(this_pass: _Pass) -> bool:
    """Take a batch of due rows, run them and record their outcomes in one transaction
    (see the module docstring); whether more may be due. Rows taken but not started (the
    pass or the batch ran out of time) are left as they were, for the next batch."""
    size = this_pass.batch_size()
    with transaction.atomic():
        runs = list(this_pass.due().select_for_update(skip_locked=True)[:size])
        outcomes = this_pass.run_each(runs)
        _record_batch(outcomes)
    return len(outcomes) < len(runs) or len(runs) == size


def _record_batch(outcomes: Sequence[_Ran]) -> None:
    """Every row's outcome and the events of those that ended: one statement per workspace."""
    for workspace_id, group in _by_workspace(outcomes).items():
        values = [value for outcome in group for value in (outcome.run.pk, *_outcome_fields(outcome))]
        events = [event for outcome in group if not outcome.retry for event in _outcome_events(outcome)]
        record_events_with(_outcomes_writer(len(group), values), events, workspace_id=workspace_id)
    for outcome in outcomes:
        _log(outcome)


def _outcomes_writer(count: int, values: list[Any]) -> Callable[[str, Sequence[Any]], None]:
    """The statement writing ``count`` rows' outcomes (``values``: id, status, attempts,
    next attempt, last error of each), behind the events' ``WITH`` items it is given."""
    table = connection.ops.quote_name(ActionRun._meta.db_table)
    rows = ", ".join(["(%s::uuid, %s, %s::integer, %s::timestamptz, %s)"] * count)
    sql = (
        f" outcome (id, status, attempts, next_attempt_at, last_error) AS (VALUES {rows})"
        f" UPDATE {table} AS run SET status = outcome.status, attempts = outcome.attempts,"
        " next_attempt_at = outcome.next_attempt_at, last_error = outcome.last_error"
        " FROM outcome WHERE run.id = outcome.id"
    )

    def write(with_items: str, with_params: Sequence[Any]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {with_items}{sql}", [*with_params, *values])

    return write


# ------------------------------------------------------------------ SQLite


def _run_leased_batch(this_pass: _Pass) -> bool:
    """Lease a batch of due rows (one transaction), run them outside a transaction, and
    record the outcomes of those whose lease is still this runner's with their events (one
    more transaction); whether more may be due. Rows leased but not started (the pass or
    the batch ran out of time) are given back as they were."""
    size = this_pass.batch_size()
    due, runs, lease, was = _lease(this_pass, size)
    outcomes = this_pass.run_each(runs)
    with transaction.atomic():
        written = [outcome for outcome in outcomes if _write_leased(outcome, lease)]
        for workspace_id, group in _by_workspace(written).items():
            events = [event for outcome in group if not outcome.retry for event in _outcome_events(outcome)]
            if events:
                record_events(events, workspace_id=workspace_id)
        for run in runs[len(outcomes) :]:
            ActionRun.objects.filter(pk=run.pk, next_attempt_at=lease).update(
                next_attempt_at=was[run.pk], attempts=F("attempts") - 1
            )
    for outcome in outcomes:
        _log(outcome)
    return len(outcomes) < len(runs) or due == size


def _lease(this_pass: _Pass, size: int) -> tuple[int, list[ActionRun], dt.datetime, dict[uuid.UUID, dt.datetime]]:
    """Take up to ``size`` due rows for the length of a lease (see the module docstring),
    each with a conditional UPDATE that only one runner can win: how many were due, the
    rows taken, the lease's end (the claim's token) and each row's ``next_attempt_at``
    before it."""
    with transaction.atomic():
        due = list(this_pass.due()[:size])
        lease = timezone.now() + dt.timedelta(seconds=settings.ORION_ACTIONS_LEASE_SECONDS)
        was = {run.pk: run.next_attempt_at for run in due}
        runs = [
            run
            for run in due
            if ActionRun.objects.filter(
                pk=run.pk, status=ActionRun.Status.PENDING, next_attempt_at=run.next_attempt_at
            ).update(next_attempt_at=lease, attempts=F("attempts") + 1)
        ]
    for run in runs:
        run.next_attempt_at = lease
    return len(due), runs, lease, was


def _write_leased(outcome: _Ran, lease: dt.datetime) -> bool:
    """Write the row's outcome if its lease is still this runner's; whether it was."""
    status, attempts, next_attempt_at, last_error = _outcome_fields(outcome)
    rows = ActionRun.objects.filter(pk=outcome.run.pk, next_attempt_at=lease)
    return rows.update(status=status, attempts=attempts, next_attempt_at=next_attempt_at, last_error=last_error) > 0


# ------------------------------------------------------------------ both


def _by_workspace(outcomes: Sequence[_Ran]) -> dict[int, list[_Ran]]:
    grouped: dict[int, list[_Ran]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.run.workspace_id, []).append(outcome)
    return grouped


def _run(run: ActionRun) -> _Ran:
    run.attempts += 1
    invocation = Invocation.from_row(run)
    failure = _perform(invocation)
    return _Ran(run, invocation, failure, timezone.now())


def _perform(invocation: Invocation) -> ActionFailed | None:
    """Run the action; its failure, if it failed.

    On PostgreSQL it runs in a savepoint of the batch's transaction, so a failed action's
    writes are undone and the others' are kept (an action that runs no SQL needs none).
    On SQLite every transaction takes the database's one write lock when it begins, so the
    action runs outside one (each service call it makes is its own transaction) and a
    webhook's wait never holds the API's writers back.
    """
    kind = str(invocation.action.get("type"))
    action = ACTIONS.get(kind)
    savepoint = connection.vendor == "postgresql" and kind not in WITHOUT_DATABASE
    scope = transaction.atomic() if savepoint else contextlib.nullcontext()
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


def _outcome_fields(outcome: _Ran) -> tuple[str, int, dt.datetime, str]:
    """The row's ``status``, ``attempts``, ``next_attempt_at`` and ``last_error`` after it ran."""
    run, failure = outcome.run, outcome.failure
    if outcome.retry:
        assert failure is not None
        delay = settings.ORION_ACTIONS_RETRY_SECONDS * 2 ** (run.attempts - 1)
        next_attempt_at = outcome.finished + dt.timedelta(seconds=delay)
        return ActionRun.Status.PENDING, run.attempts, next_attempt_at, failure.reason
    status = ActionRun.Status.DONE if failure is None else ActionRun.Status.FAILED
    return status, run.attempts, run.next_attempt_at, failure.reason if failure else ""


def _log(outcome: _Ran) -> None:
    failure, run = outcome.failure, outcome.run
    if failure is None:
        return
    if outcome.retry:
        delay = settings.ORION_ACTIONS_RETRY_SECONDS * 2 ** (run.attempts - 1)
        logger.info("Action %s failed (%s); attempt %d in %ss", run.id, failure.reason, run.attempts + 1, delay)
    else:
        logger.warning("Action %s failed: %s", run.id, failure.reason)


def _outcome_events(outcome: _Ran) -> list[NewEvent]:
    """``action.triggered`` (at the firing's time, after its triggering event) and then
    ``action.executed`` or ``action.failed`` (when the action ended), about the automation."""
    invocation, failure = outcome.invocation, outcome.failure
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
    triggered = NewEvent(
        "prefect.automation.action.triggered",
        resource,
        invocation.related,
        details,
        occurred=invocation.triggered,
        id=uuid.uuid4(),
        follows=_uuid_or_none(event.get("id")),
    )
    return [
        triggered,
        NewEvent(
            "prefect.automation.action.failed" if failure else "prefect.automation.action.executed",
            resource,
            invocation.related,
            {**details, **({"reason": failure.reason} if failure else {}), **invocation.details},
            occurred=outcome.finished,
            id=uuid.uuid4(),
            follows=triggered.id,
        ),
    ]


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
