"""What one orchestration (a proposed state transition) knows and decides."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

from orion_project.prepared import by_id
from runs_app.models import FlowRun, FlowRunState, TaskRun, TaskRunState
from runs_app.states import StateType, default_state_name

# Every key of ``StateDetails`` (2.7.12 and 2.20) with its default; responses show all.
STATE_DETAIL_DEFAULTS: dict[str, Any] = {
    "flow_run_id": None,
    "task_run_id": None,
    "child_flow_run_id": None,
    "scheduled_time": None,
    "cache_key": None,
    "cache_expiration": None,
    "untrackable_result": False,
    "pause_timeout": None,
    "pause_reschedule": False,
    "pause_key": None,
    "run_input_keyset": None,
    "refresh_cache": None,
    "retriable": None,
    "transition_id": None,
    "task_parameters_id": None,
}


def state_details_json(details: dict[str, Any] | None) -> dict[str, Any]:
    """Validated state details → the JSON stored on a state row (ISO strings, str UUIDs)."""
    stored: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if value is None or key not in STATE_DETAIL_DEFAULTS:
            continue
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        elif not isinstance(value, (str, int, float, bool, dict, list)):
            value = str(value)
        stored[key] = value
    return stored


class SetStateStatus:
    """The verdict of an orchestration (``OrchestrationResult.status``)."""

    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    ABORT = "ABORT"
    WAIT = "WAIT"


@dataclass
class ProposedState:
    """A state not yet written: what the client proposed, or what a rule put in its place."""

    type: str
    name: str
    timestamp: dt.datetime
    message: str | None = None
    data: Any = None
    state_details: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @classmethod
    def make(
        cls,
        *,
        type: str,
        timestamp: dt.datetime,
        name: str | None = None,
        message: str | None = None,
        data: Any = None,
        state_details: dict[str, Any] | None = None,
    ) -> ProposedState:
        """A state with the reference's defaults: the name is the capitalised type, and a
        SCHEDULED state without a scheduled time is scheduled for now."""
        details = dict(state_details or {})
        if type == StateType.SCHEDULED and not details.get("scheduled_time"):
            details["scheduled_time"] = timestamp.isoformat()
        return cls(
            type=type,
            name=name or default_state_name(type),
            timestamp=timestamp,
            message=message,
            data=data,
            state_details=details,
        )

    def scheduled_time(self) -> dt.datetime | None:
        return parse_detail_time(self.state_details.get("scheduled_time"))


def parse_detail_time(value: Any) -> dt.datetime | None:
    """A datetime stored in state details (ISO text) as an aware datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass
class OrchestrationContext:
    """One proposed transition of one run, evaluated by a policy's rules.

    Rules read ``run``, ``initial`` (the current state row, or ``None``) and ``proposed``;
    they change ``proposed`` (reject into another state, rename, or drop it) and record
    the verdict in ``status`` / ``reason`` / ``delay_seconds``. ``validated`` is the state
    row written, if any.
    """

    run: FlowRun | TaskRun
    initial: FlowRunState | TaskRunState | None
    proposed: ProposedState | None
    now: dt.datetime
    force: bool = False
    api_version: tuple[int, int, int] | None = None
    status: str = SetStateStatus.ACCEPT
    reason: str | None = None
    delay_seconds: int | None = None
    validated: FlowRunState | TaskRunState | None = None
    # The flow-run history rollup's upsert for the state being written (the bookkeeping
    # makes it; the engine runs it with the state write).
    history_upsert: tuple[str, list[Any]] | None = None
    # Rules keep what they need to undo here (keyed by rule name).
    scratch: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def flow_run(self) -> FlowRun | None:
        """The enclosing flow run of a task run (its state and run count), read on first use.

        Only the rules of some transitions (→ RUNNING, out of a terminal state) look at
        it, so the others cost no statement for it.
        """
        if not isinstance(self.run, TaskRun) or self.run.flow_run_id is None:
            return None
        read = by_id(FlowRun, only=("id", "state_type", "run_count"))
        return read.get(self.run.flow_run_id, workspace_id=self.run.workspace_id)

    @property
    def initial_type(self) -> str | None:
        return self.initial.type if self.initial is not None else None

    @property
    def proposed_type(self) -> str | None:
        return self.proposed.type if self.proposed is not None else None

    @property
    def is_task_run(self) -> bool:
        return isinstance(self.run, TaskRun)

    def api_older_than(self, version: tuple[int, int, int]) -> bool:
        """Whether the client announced an API version below ``version``."""
        return self.api_version is not None and self.api_version < version

    # The four verdicts a rule can give -------------------------------------------------

    def reject(self, state: ProposedState | None, reason: str) -> None:
        """Refuse the proposal; ``state`` (if any) is written instead."""
        self.status = SetStateStatus.REJECT
        self.proposed = state
        self.reason = reason

    def abort(self, reason: str) -> None:
        """Refuse the proposal and tell the client to stop."""
        self.status = SetStateStatus.ABORT
        self.proposed = None
        self.reason = reason

    def delay(self, seconds: float, reason: str) -> None:
        """Refuse for now: the client should propose again after ``seconds``."""
        self.status = SetStateStatus.WAIT
        self.proposed = None
        self.delay_seconds = round(seconds)
        self.reason = reason

    def rename(self, name: str) -> None:
        """Accept the proposal under another name."""
        if self.proposed is not None:
            self.proposed.name = name


DETAIL_TYPES = {
    SetStateStatus.ACCEPT: "accept_details",
    SetStateStatus.REJECT: "reject_details",
    SetStateStatus.ABORT: "abort_details",
    SetStateStatus.WAIT: "wait_details",
}


@dataclass
class OrchestrationResult:
    """What ``set_state`` answers: the verdict, its details and the run's current state."""

    status: str
    state: FlowRunState | TaskRunState | None
    reason: str | None = None
    delay_seconds: int | None = None
    state_written: bool = False

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"type": DETAIL_TYPES[self.status]}
        if self.status == SetStateStatus.WAIT:
            details["delay_seconds"] = self.delay_seconds or 0
        if self.status != SetStateStatus.ACCEPT:
            details["reason"] = self.reason
        return details
