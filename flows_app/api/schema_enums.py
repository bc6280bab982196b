"""Enumerations of flows' and deployments' bodies, named once in the OpenAPI document
(drf-spectacular ``ENUM_NAME_OVERRIDES`` in settings)."""

from flows_app.filters import FLOW_SORT

# FlowSort and DeploymentSort share their values, so one name serves both.
FLOW_SORT_VALUES = list(FLOW_SORT.orders)
