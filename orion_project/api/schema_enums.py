"""Names of the enumerations in the OpenAPI document (drf-spectacular ENUM_NAME_OVERRIDES).

Each sort enum and the state type appear in many request bodies; naming them once keeps
the schema's component names those of the reference (``FlowRunSort``, ``StateType`` ...).
"""

from flows_app.filters import FLOW_SORT
from orion_project.filtering import BOOLEAN_OPERATORS
from runs_app.filters import FLOW_RUN_SORT, LOG_SORT, TASK_RUN_SORT
from runs_app.states import StateType

# FlowSort and DeploymentSort share their values, so one name serves both.
FLOW_SORT_VALUES = list(FLOW_SORT.orders)

FLOW_RUN_SORT_VALUES = list(FLOW_RUN_SORT.orders)
TASK_RUN_SORT_VALUES = list(TASK_RUN_SORT.orders)
LOG_SORT_VALUES = list(LOG_SORT.orders)
OPERATOR_VALUES = list(BOOLEAN_OPERATORS)
SET_STATE_STATUS_VALUES = ["ACCEPT", "REJECT", "ABORT", "WAIT"]
STATE_TYPE_VALUES = list(StateType.values)
