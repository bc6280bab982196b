"""The orchestration transition tables, read by the API tests and the engine tests alike.

Each row: (initial state type, proposed state type) → (HTTP status of ``set_state``,
verdict, the run's state type afterwards), with ``force`` false. A 201 means a state was
written.
"""

from __future__ import annotations

ACCEPT, REJECT, ABORT, WAIT = "ACCEPT", "REJECT", "ABORT", "WAIT"

# (initial, proposed) → (HTTP status, verdict, resulting state type); force = false.
FLOW_TRANSITIONS = [
    ("PENDING", "RUNNING", 201, ACCEPT, "RUNNING"),
    ("SCHEDULED", "PENDING", 201, ACCEPT, "PENDING"),
    ("SCHEDULED", "RUNNING", 201, ACCEPT, "RUNNING"),
    ("RUNNING", "COMPLETED", 201, ACCEPT, "COMPLETED"),
    ("RUNNING", "FAILED", 201, ACCEPT, "FAILED"),
    ("RUNNING", "CRASHED", 201, ACCEPT, "CRASHED"),
    ("RUNNING", "CANCELLED", 201, ACCEPT, "CANCELLED"),
    ("RUNNING", "CANCELLING", 201, ACCEPT, "CANCELLING"),
    ("RUNNING", "PAUSED", 201, ACCEPT, "PAUSED"),
    ("PENDING", "COMPLETED", 201, ACCEPT, "COMPLETED"),
    ("SCHEDULED", "CANCELLING", 201, ACCEPT, "CANCELLING"),
    # PreventRedundantTransitions
    ("RUNNING", "RUNNING", 200, ABORT, "RUNNING"),
    ("RUNNING", "PENDING", 200, ABORT, "RUNNING"),
    ("RUNNING", "SCHEDULED", 200, ABORT, "RUNNING"),
    ("PENDING", "PENDING", 200, ABORT, "PENDING"),
    ("PENDING", "SCHEDULED", 200, ABORT, "PENDING"),
    ("SCHEDULED", "SCHEDULED", 200, ABORT, "SCHEDULED"),
    # HandleFlowTerminalStateTransitions
    ("COMPLETED", "RUNNING", 200, ABORT, "COMPLETED"),
    ("COMPLETED", "CRASHED", 200, ABORT, "COMPLETED"),
    ("FAILED", "PENDING", 200, ABORT, "FAILED"),
    ("CRASHED", "SCHEDULED", 200, ABORT, "CRASHED"),
    ("CANCELLED", "CANCELLED", 200, ABORT, "CANCELLED"),
    # HandleCancellingStateTransitions
    ("CANCELLING", "COMPLETED", 200, REJECT, "CANCELLING"),
    ("CANCELLING", "SCHEDULED", 200, REJECT, "CANCELLING"),
    ("CANCELLING", "CANCELLED", 201, ACCEPT, "CANCELLED"),
    # HandlePausingFlows / HandleResumingPausedFlows
    ("PENDING", "PAUSED", 200, REJECT, "PENDING"),
    ("SCHEDULED", "PAUSED", 200, REJECT, "SCHEDULED"),
    ("PAUSED", "RUNNING", 201, ACCEPT, "RUNNING"),
    ("PAUSED", "COMPLETED", 201, ACCEPT, "COMPLETED"),
    ("PAUSED", "PENDING", 200, REJECT, "PAUSED"),
]

# Task runs (inside a RUNNING flow run).
TASK_TRANSITIONS = [
    ("PENDING", "RUNNING", 201, ACCEPT, "RUNNING"),
    ("RUNNING", "COMPLETED", 201, ACCEPT, "COMPLETED"),
    ("RUNNING", "RUNNING", 200, ABORT, "RUNNING"),
    ("RUNNING", "PENDING", 200, ABORT, "RUNNING"),
    ("COMPLETED", "RUNNING", 200, ABORT, "COMPLETED"),
    ("COMPLETED", "PENDING", 200, ABORT, "COMPLETED"),
    ("CANCELLING", "RUNNING", 200, ABORT, "CANCELLING"),
    ("CANCELLING", "COMPLETED", 201, ACCEPT, "COMPLETED"),
    ("PAUSED", "RUNNING", 201, ACCEPT, "RUNNING"),
    ("SCHEDULED", "PENDING", 201, ACCEPT, "PENDING"),
]
