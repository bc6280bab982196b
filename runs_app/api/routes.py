"""The runs app's viewsets on the API router."""

from rest_framework.routers import SimpleRouter

from runs_app.api.artifacts import ArtifactViewSet
from runs_app.api.flow_runs import FlowRunViewSet, UIFlowRunViewSet
from runs_app.api.global_concurrency import GlobalConcurrencyLimitViewSet
from runs_app.api.graph import FlowRunGraphViewSet
from runs_app.api.operations import FlowRunOperationsViewSet
from runs_app.api.records import (
    ConcurrencyLimitViewSet,
    FlowRunStateViewSet,
    LogViewSet,
    TaskRunStateViewSet,
)
from runs_app.api.run_input import FlowRunInputViewSet
from runs_app.api.task_runs import TaskRunViewSet, UITaskRunViewSet


def register(router: SimpleRouter) -> None:
    """Add this app's resources to the API router."""
    # Before the flow-run routes, so /flow_runs/prune is never read as a flow run id.
    router.register("flow_runs", FlowRunOperationsViewSet, basename="flow_run_operations")
    router.register("flow_runs", FlowRunViewSet, basename="flow_runs")
    router.register("ui/flow_runs", UIFlowRunViewSet, basename="ui_flow_runs")
    router.register("task_runs", TaskRunViewSet, basename="task_runs")
    router.register("ui/task_runs", UITaskRunViewSet, basename="ui_task_runs")
    router.register("flow_run_states", FlowRunStateViewSet, basename="flow_run_states")
    router.register("task_run_states", TaskRunStateViewSet, basename="task_run_states")
    router.register("logs", LogViewSet, basename="logs")
    router.register("concurrency_limits", ConcurrencyLimitViewSet, basename="concurrency_limits")
    router.register("v2/concurrency_limits", GlobalConcurrencyLimitViewSet, basename="global_concurrency_limits")
    router.register("artifacts", ArtifactViewSet, basename="artifacts")
    router.register("flow_runs", FlowRunInputViewSet, basename="flow_run_inputs")
    router.register("flow_runs", FlowRunGraphViewSet, basename="flow_run_graph_v2")
