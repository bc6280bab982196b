"""State types and the names the server itself gives states: one definition for every layer."""

from __future__ import annotations

from django.db import models


class StateType(models.TextChoices):
    """The type of a run's state (reference §B.0)."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"


TERMINAL_STATE_TYPES = frozenset({StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED})
# Runs in these states occupy a work queue's (or pool's) concurrency slot.
ACTIVE_STATE_TYPES = frozenset({StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})


def default_state_name(state_type: str) -> str:
    """``RUNNING`` → ``Running``: the name a state gets when none is given."""
    return state_type.capitalize()


class StateName:
    """Names the server gives states it creates or renames."""

    AWAITING_RETRY = "AwaitingRetry"
    RETRYING = "Retrying"
    RERUNNING = "Rerunning"
    CACHED = "Cached"
    LATE = "Late"
    RESUMING = "Resuming"
    NOT_READY = "NotReady"
    SCHEDULED = "Scheduled"
    # A flow run an automation suspended (PAUSED, rescheduled when resumed).
    SUSPENDED = "Suspended"
