"""The policy table: which rules govern a transition, in priority order (reference §F.3, §F.4).

``force=true`` replaces the core policy by the minimal one (only slot release). The global
bookkeeping of ``bookkeeping.py`` runs either way.

The order of the reference's rules is kept as in 2.7.12 (core_policy.py). The one rule it
does not have, ``ReleaseSlotsOfFinishedFlowRuns``, comes last and only acts after a flow
run's final state is written (see ``runs_app.services.slots``).
"""

from __future__ import annotations

from runs_app.orchestration import rules
from runs_app.orchestration.rules import Rule

CORE_FLOW_POLICY: tuple[type[Rule], ...] = (
    rules.HandleFlowTerminalStateTransitions,
    rules.HandleCancellingStateTransitions,
    rules.PreventRedundantTransitions,
    rules.HandlePausingFlows,
    rules.HandleResumingPausedFlows,
    rules.CopyScheduledTime,
    rules.WaitForScheduledTime,
    rules.RetryFailedFlows,
    rules.ReleaseSlotsOfFinishedFlowRuns,
)

CORE_TASK_POLICY: tuple[type[Rule], ...] = (
    rules.CacheRetrieval,
    rules.HandleTaskTerminalStateTransitions,
    rules.PreventRunningTasksFromStoppedFlows,
    rules.PreventRedundantTransitions,
    rules.SecureTaskConcurrencySlots,
    rules.CopyScheduledTime,
    rules.WaitForScheduledTime,
    rules.RetryFailedTasks,
    rules.RenameReruns,
    rules.UpdateFlowRunTrackerOnTasks,
    rules.CacheInsertion,
    rules.ReleaseTaskConcurrencySlots,
)

MINIMAL_FLOW_POLICY: tuple[type[Rule], ...] = (rules.ReleaseSlotsOfFinishedFlowRuns,)
MINIMAL_TASK_POLICY: tuple[type[Rule], ...] = (rules.ReleaseTaskConcurrencySlots,)


def policy_for(*, task_run: bool, force: bool) -> tuple[type[Rule], ...]:
    """The rules that govern one proposal."""
    if task_run:
        return MINIMAL_TASK_POLICY if force else CORE_TASK_POLICY
    return MINIMAL_FLOW_POLICY if force else CORE_FLOW_POLICY
