"""The core orchestration rules (reference §F.3, §F.4), one small class each.

A rule governs transitions whose *initial* state type is in ``from_states`` and whose
*proposed* type is in ``to_states`` (``None`` stands for "no state"). ``before`` runs
before the state is written and may reject, abort, delay or rename; ``after`` runs once
the state is written, if the rule still governs the transition that happened;
``cleanup`` undoes a ``before`` whose transition did not happen ("fizzled").
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

from orion_project.clock import add_seconds_clamped
from runs_app.models import ConcurrencyLimit, FlowRun, TaskRun, TaskRunState, TaskRunStateCache
from runs_app.orchestration.context import OrchestrationContext, ProposedState, parse_detail_time
from runs_app.services import slots
from runs_app.states import TERMINAL_STATE_TYPES, StateName, StateType

ALL_STATES: frozenset[str | None] = frozenset([*StateType.values, None])
TERMINAL: frozenset[str | None] = frozenset(TERMINAL_STATE_TYPES)


def state_repr(state_type: str | None) -> str:
    """How the reference (Python 3.11) prints a state type inside messages."""
    return f"StateType.{state_type}" if state_type else "None"


class Rule:
    """Base class: a rule with the from/to state types it governs."""

    from_states: ClassVar[frozenset[str | None]] = ALL_STATES
    to_states: ClassVar[frozenset[str | None]] = ALL_STATES
    # A universal rule's ``after`` runs whatever the other rules did to the proposal
    # (the reference's universal transforms); other rules follow the fizzle rule of
    # ``engine._run_after_hooks``.
    universal: ClassVar[bool] = False

    def governs(self, initial_type: str | None, proposed_type: str | None) -> bool:
        return initial_type in self.from_states and proposed_type in self.to_states

    def before(self, ctx: OrchestrationContext) -> None:
        """Inspect the proposal before it is written."""

    def after(self, ctx: OrchestrationContext) -> None:
        """Act once the state is written."""

    def cleanup(self, ctx: OrchestrationContext) -> None:
        """Undo ``before`` when the transition did not happen."""

    @property
    def name(self) -> str:
        return type(self).__name__


# ------------------------------------------------------------------------ shared rules


class PreventRedundantTransitions(Rule):
    """SCHEDULED/PENDING/RUNNING/CANCELLING never move backwards or repeat (ABORT)."""

    RANK: ClassVar[dict[str | None, int]] = {
        None: 0,
        StateType.SCHEDULED: 1,
        StateType.PENDING: 2,
        StateType.RUNNING: 3,
        StateType.CANCELLING: 4,
    }
    from_states = frozenset(RANK)
    to_states = frozenset(RANK)

    def before(self, ctx: OrchestrationContext) -> None:
        if self.RANK[ctx.proposed_type] <= self.RANK[ctx.initial_type]:
            ctx.abort(
                f"This run cannot transition to the {state_repr(ctx.proposed_type)} state "
                f"from the {state_repr(ctx.initial_type)} state."
            )


class CopyScheduledTime(Rule):
    """SCHEDULED → PENDING keeps the scheduled time, so a later RUNNING still waits for it."""

    from_states = frozenset({StateType.SCHEDULED})
    to_states = frozenset({StateType.PENDING})

    def before(self, ctx: OrchestrationContext) -> None:
        assert ctx.initial is not None and ctx.proposed is not None
        if not ctx.proposed.state_details.get("scheduled_time"):
            scheduled = (ctx.initial.state_details or {}).get("scheduled_time")
            if scheduled:
                ctx.proposed.state_details["scheduled_time"] = scheduled


class WaitForScheduledTime(Rule):
    """SCHEDULED/PENDING → RUNNING before the scheduled time: WAIT until then."""

    from_states = frozenset({StateType.SCHEDULED, StateType.PENDING})
    to_states = frozenset({StateType.RUNNING})

    def before(self, ctx: OrchestrationContext) -> None:
        assert ctx.initial is not None
        scheduled = parse_detail_time((ctx.initial.state_details or {}).get("scheduled_time"))
        if scheduled is not None and scheduled > ctx.now:
            ctx.delay((scheduled - ctx.now).total_seconds(), "Scheduled time is in the future")


def _awaiting_retry(ctx: OrchestrationContext, delay_seconds: float) -> ProposedState:
    """The SCHEDULED "AwaitingRetry" state that replaces a FAILED proposal."""
    assert ctx.proposed is not None
    return ProposedState.make(
        type=StateType.SCHEDULED,
        name=StateName.AWAITING_RETRY,
        timestamp=ctx.now,
        message=ctx.proposed.message,
        data=ctx.proposed.data,
        state_details={"scheduled_time": add_seconds_clamped(ctx.now, delay_seconds).isoformat()},
    )


# -------------------------------------------------------------------------- flow rules


class HandleFlowTerminalStateTransitions(Rule):
    """A finished flow run stays finished (ABORT), except a manual retry of a deployed run."""

    from_states = TERMINAL

    def before(self, ctx: OrchestrationContext) -> None:
        proposed = ctx.proposed
        assert isinstance(ctx.run, FlowRun)
        if proposed is not None and proposed.type == StateType.SCHEDULED and proposed.name == StateName.AWAITING_RETRY:
            if ctx.run.deployment_id is None:
                ctx.abort("Cannot restart a run without an associated deployment.")
                return
            ctx.scratch[self.name] = dict(ctx.run.empirical_policy or {})
            policy = dict(ctx.run.empirical_policy or {})
            policy.update(resuming=False, pause_keys=[])
            ctx.run.empirical_policy = policy
            return
        ctx.abort("This run has already terminated.")

    def cleanup(self, ctx: OrchestrationContext) -> None:
        if self.name in ctx.scratch:
            ctx.run.empirical_policy = ctx.scratch.pop(self.name)


class HandleCancellingStateTransitions(Rule):
    """A cancelling (or cancelled) flow run may only become CANCELLED (REJECT otherwise)."""

    from_states = frozenset({StateType.CANCELLED, StateType.CANCELLING})
    to_states = ALL_STATES - {StateType.CANCELLED}

    def before(self, ctx: OrchestrationContext) -> None:
        ctx.reject(None, "Cannot transition flows that are cancelling to a state other than Cancelled.")


class HandlePausingFlows(Rule):
    """→ PAUSED only from RUNNING, once per pause key; records the key."""

    to_states = frozenset({StateType.PAUSED})

    def before(self, ctx: OrchestrationContext) -> None:
        assert isinstance(ctx.run, FlowRun) and ctx.proposed is not None
        if ctx.initial is None:
            ctx.abort("Cannot pause flows with no state.")
            return
        if ctx.initial.type != StateType.RUNNING:
            ctx.reject(None, "Cannot pause flows that are not currently running.")
            return
        details = ctx.proposed.state_details
        key = details.get("pause_key") or str(uuid.uuid4())
        policy = dict(ctx.run.empirical_policy or {})
        if key in policy.get("pause_keys", []):
            ctx.reject(None, "This pause has already fired.")
            return
        if details.get("pause_reschedule"):
            if ctx.run.parent_task_run_id is not None:
                ctx.abort("Cannot pause subflows with the reschedule option.")
                return
            if ctx.run.deployment_id is None:
                ctx.abort("Cannot pause flows without a deployment with the reschedule option.")
                return
        ctx.scratch[self.name] = dict(policy)
        policy["pause_keys"] = [*policy.get("pause_keys", []), key]
        ctx.run.empirical_policy = policy

    def cleanup(self, ctx: OrchestrationContext) -> None:
        if self.name in ctx.scratch:
            ctx.run.empirical_policy = ctx.scratch.pop(self.name)


class HandleResumingPausedFlows(Rule):
    """PAUSED → RUNNING, SCHEDULED or terminal only; an expired pause fails the run.

    Once the rule has decided (accepted, or rejected in either way) the run is marked
    ``resuming``; the mark is set *after* the bookkeeping, so the transition that leaves
    PAUSED still counts a run, and the next entry into RUNNING reads the mark.
    """

    from_states = frozenset({StateType.PAUSED})

    ALLOWED = frozenset({StateType.RUNNING, StateType.SCHEDULED, *TERMINAL_STATE_TYPES})

    def before(self, ctx: OrchestrationContext) -> None:
        assert isinstance(ctx.run, FlowRun) and ctx.initial is not None
        if ctx.proposed_type not in self.ALLOWED:
            ctx.reject(
                None,
                f"This run cannot transition to the {state_repr(ctx.proposed_type)} state "
                f"from the {state_repr(ctx.initial.type)} state.",
            )
            return
        initial_details = ctx.initial.state_details or {}
        if initial_details.get("pause_reschedule") and ctx.run.deployment_id is None:
            ctx.reject(None, "Cannot reschedule a paused flow run without a deployment.")
            return
        timeout = parse_detail_time(initial_details.get("pause_timeout"))
        if timeout is not None and timeout < ctx.now and ctx.proposed_type not in TERMINAL_STATE_TYPES:
            failed = ProposedState.make(
                type=StateType.FAILED, timestamp=ctx.now, message="The flow was paused and never resumed."
            )
            ctx.reject(failed, "The flow run pause has timed out and can no longer resume.")

    def after(self, ctx: OrchestrationContext) -> None:
        policy = dict(ctx.run.empirical_policy or {})
        policy["resuming"] = True
        ctx.run.empirical_policy = policy


class RetryFailedFlows(Rule):
    """RUNNING → FAILED with retries left: REJECT into AwaitingRetry after ``retry_delay``."""

    from_states = frozenset({StateType.RUNNING})
    to_states = frozenset({StateType.FAILED})

    def before(self, ctx: OrchestrationContext) -> None:
        assert isinstance(ctx.run, FlowRun)
        policy = dict(ctx.run.empirical_policy or {})
        retries = policy.get("retries")
        if retries is None or ctx.run.run_count > retries:
            return
        ctx.scratch[self.name] = dict(policy)
        if not ctx.api_older_than((0, 8, 4)):
            policy.update(resuming=False, pause_keys=[])
        ctx.run.empirical_policy = policy
        ctx.reject(_awaiting_retry(ctx, policy.get("retry_delay") or 0), "Retrying")
        if ctx.api_older_than((0, 8, 3)):
            ctx.scratch["reset_failed_tasks"] = True

    def cleanup(self, ctx: OrchestrationContext) -> None:
        if self.name in ctx.scratch:
            ctx.run.empirical_policy = ctx.scratch.pop(self.name)
        ctx.scratch.pop("reset_failed_tasks", None)


# -------------------------------------------------------------------------- task rules


class CacheRetrieval(Rule):
    """→ RUNNING with a cache key that has an unexpired entry: REJECT into "Cached"."""

    to_states = frozenset({StateType.RUNNING})

    def before(self, ctx: OrchestrationContext) -> None:
        assert ctx.proposed is not None
        details = ctx.proposed.state_details
        key = details.get("cache_key")
        if not key or details.get("refresh_cache"):
            return
        from django.db.models import Q

        entry = (
            TaskRunStateCache.objects.filter(cache_key=key)
            .filter(Q(cache_expiration__isnull=True) | Q(cache_expiration__gt=ctx.now))
            .select_related("task_run_state")
            .order_by("-created")
            .first()
        )
        if entry is None:
            return
        cached = entry.task_run_state
        ctx.reject(
            ProposedState.make(
                type=cached.type,
                name=StateName.CACHED,
                timestamp=ctx.now,
                message=cached.message,
                data=cached.data,
                state_details={
                    k: v for k, v in (cached.state_details or {}).items() if k not in ("flow_run_id", "task_run_id")
                },
            ),
            "Retrieved state from cache",
        )


class HandleTaskTerminalStateTransitions(Rule):
    """A finished task stays finished (ABORT), unless its flow run is retrying it."""

    from_states = TERMINAL

    RETRYABLE = frozenset({StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})

    def before(self, ctx: OrchestrationContext) -> None:
        assert isinstance(ctx.run, TaskRun) and ctx.initial is not None
        flow_run = ctx.flow_run
        if (
            ctx.proposed_type == StateType.RUNNING
            and ctx.initial.type in self.RETRYABLE
            and flow_run is not None
            and ctx.run.flow_run_run_count < flow_run.run_count
        ):
            ctx.scratch[self.name] = ctx.run.run_count
            ctx.run.run_count = 0
            ctx.rename(StateName.RETRYING)
            return
        ctx.abort("This run has already terminated.")

    def cleanup(self, ctx: OrchestrationContext) -> None:
        if self.name in ctx.scratch:
            ctx.run.run_count = ctx.scratch.pop(self.name)


class PreventRunningTasksFromStoppedFlows(Rule):
    """→ RUNNING only while the enclosing flow run is RUNNING (PAUSED: "NotReady")."""

    to_states = frozenset({StateType.RUNNING})

    def before(self, ctx: OrchestrationContext) -> None:
        flow_run = ctx.flow_run
        if flow_run is None:
            return  # tasks outside a flow run (2.20) have nothing to wait for
        if flow_run.state_type == StateType.PAUSED:
            ctx.reject(
                ProposedState.make(type=StateType.PAUSED, name=StateName.NOT_READY, timestamp=ctx.now),
                f"The flow is paused, new tasks can execute after resuming flow run: {flow_run.id}.",
            )
            return
        if flow_run.state_type != StateType.RUNNING:
            ctx.abort("The enclosing flow must be running to begin task execution.")


class SecureTaskConcurrencySlots(Rule):
    """→ RUNNING takes a slot of every tag limit on the task, after freeing stale slots
    (``runs_app.services.slots``); full → WAIT 30 s, 0 → ABORT."""

    to_states = frozenset({StateType.RUNNING})
    WAIT_SECONDS = 30

    def before(self, ctx: OrchestrationContext) -> None:
        run_id = str(ctx.run.id)
        limits = list(
            ConcurrencyLimit.objects.select_for_update().filter(tag__in=list(ctx.run.tags or [])).order_by("tag")
        )
        # With the limits locked, so no other transaction takes or frees these slots meanwhile.
        slots.free_stale_slots(limits, ctx.now, keep=run_id)
        taken: list[ConcurrencyLimit] = []
        for limit in limits:
            if limit.concurrency_limit == 0:
                self._release(taken, run_id)
                ctx.abort(
                    f"The concurrency limit on tag {limit.tag} is 0 and will deadlock if the task tries to run again."
                )
                return
            if run_id in (limit.active_slots or []):
                continue
            if len(limit.active_slots or []) >= limit.concurrency_limit:
                self._release(taken, run_id)
                ctx.delay(self.WAIT_SECONDS, f"Concurrency limit for the {limit.tag} tag has been reached")
                return
            slots.take_slot(limit, run_id, ctx.now)
            taken.append(limit)
        ctx.scratch[self.name] = taken

    def cleanup(self, ctx: OrchestrationContext) -> None:
        self._release(ctx.scratch.pop(self.name, []), str(ctx.run.id))

    @staticmethod
    def _release(limits: Iterable[ConcurrencyLimit], run_id: str) -> None:
        for limit in limits:
            slots.release_slots(limit, [run_id])


class RetryFailedTasks(Rule):
    """RUNNING → FAILED with retries left: REJECT into AwaitingRetry after the retry delay."""

    from_states = frozenset({StateType.RUNNING})
    to_states = frozenset({StateType.FAILED})

    def before(self, ctx: OrchestrationContext) -> None:
        policy = ctx.run.empirical_policy or {}
        retries = policy.get("retries")
        if retries is None or ctx.run.run_count > retries:
            return
        delay = retry_delay_seconds(policy, ctx.run.run_count)
        ctx.reject(_awaiting_retry(ctx, delay), "Retrying")


def retry_delay_seconds(policy: dict[str, Any], run_count: int) -> float:
    """The delay before the next try: one value, or per-try values from a list, jittered."""
    configured = policy.get("retry_delay")
    if isinstance(configured, list):
        delay = float(configured[min(max(run_count - 1, 0), len(configured) - 1)]) if configured else 0.0
    else:
        delay = float(configured or 0)
    jitter = policy.get("retry_jitter_factor")
    if jitter and delay > 0:
        delay = clamped_poisson_interval(delay, float(jitter))
    return delay


def clamped_poisson_interval(average: float, clamping_factor: float) -> float:
    """An exponentially distributed interval around ``average``, clamped to ±factor."""
    upper = average * (1 + clamping_factor)
    lower = max(average * (1 - clamping_factor), 0.0)
    return min(max(random.expovariate(1 / average), lower), upper)


class RenameReruns(Rule):
    """→ RUNNING of a task that ran before: renamed "Retrying" (after AwaitingRetry) or
    "Rerunning"."""

    to_states = frozenset({StateType.RUNNING})

    def before(self, ctx: OrchestrationContext) -> None:
        if ctx.run.run_count > 0:
            after_retry = ctx.initial is not None and ctx.initial.name == StateName.AWAITING_RETRY
            ctx.rename(StateName.RETRYING if after_retry else StateName.RERUNNING)


class UpdateFlowRunTrackerOnTasks(Rule):
    """After → RUNNING: the task remembers which try of its flow run it ran in."""

    to_states = frozenset({StateType.RUNNING})

    def after(self, ctx: OrchestrationContext) -> None:
        if ctx.flow_run is not None and isinstance(ctx.run, TaskRun):
            ctx.run.flow_run_run_count = ctx.flow_run.run_count


class CacheInsertion(Rule):
    """After → COMPLETED with a cache key: store the state for later cache hits."""

    to_states = frozenset({StateType.COMPLETED})

    def after(self, ctx: OrchestrationContext) -> None:
        state = ctx.validated
        if not isinstance(state, TaskRunState):
            return
        key = (state.state_details or {}).get("cache_key")
        if key:
            TaskRunStateCache.objects.create(
                workspace_id=state.workspace_id,
                cache_key=key,
                cache_expiration=parse_detail_time((state.state_details or {}).get("cache_expiration")),
                task_run_state=state,
            )


class ReleaseTaskConcurrencySlots(Rule):
    """After any transition out of RUNNING/CANCELLING: give back the task's tag slots."""

    universal = True

    def after(self, ctx: OrchestrationContext) -> None:
        if ctx.validated is None or ctx.validated.type in slots.HOLDING_STATE_TYPES:
            return
        if ctx.initial is None:  # a run being created holds no slot: no statement for it
            return
        run_id = str(ctx.run.id)
        for limit in (
            ConcurrencyLimit.objects.select_for_update().filter(tag__in=list(ctx.run.tags or [])).order_by("tag")
        ):
            slots.release_slots(limit, [run_id])


class ReleaseSlotsOfFinishedFlowRuns(Rule):
    """After a flow run → a final state: its task runs still RUNNING give back their slots
    (their process is gone and will not report; not in the reference, which leaks them)."""

    to_states = TERMINAL

    def after(self, ctx: OrchestrationContext) -> None:
        if ctx.validated is not None and ctx.validated.type in TERMINAL and isinstance(ctx.run, FlowRun):
            slots.release_slots_of_flow_run(flow_run_id=ctx.run.id)
