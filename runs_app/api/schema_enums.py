"""Enumerations of run bodies, named once in the OpenAPI document (drf-spectacular
``ENUM_NAME_OVERRIDES`` in settings), so component names are the reference's
(``FlowRunSort``, ``StateType`` ...) however many request bodies use them."""

from runs_app.filters import ARTIFACT_SORT, FLOW_RUN_SORT, LOG_SORT, TASK_RUN_SORT
from runs_app.orchestration.context import SetStateStatus
from runs_app.states import StateType

FLOW_RUN_SORT_VALUES = list(FLOW_RUN_SORT.orders)
TASK_RUN_SORT_VALUES = list(TASK_RUN_SORT.orders)
LOG_SORT_VALUES = list(LOG_SORT.orders)
SET_STATE_STATUS_VALUES = [
    SetStateStatus.ACCEPT,
    SetStateStatus.REJECT,
    SetStateStatus.ABORT,
    SetStateStatus.WAIT,
]
STATE_TYPE_VALUES = list(StateType.values)

# ArtifactSort and ArtifactCollectionSort share their values (2.20); VariableSort shares
# FlowSort's values and takes that name.
ARTIFACT_SORT_VALUES = list(ARTIFACT_SORT.orders)
