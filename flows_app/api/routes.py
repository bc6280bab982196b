"""The flows app's viewsets on the API router."""

from rest_framework.routers import SimpleRouter

from flows_app.api.deployments import DeploymentViewSet
from flows_app.api.ui import CollectionViewSet, UISchemaViewSet
from flows_app.api.ui_records import NotificationPolicyViewSet, SavedSearchViewSet
from flows_app.api.views import FlowViewSet
from flows_app.api.work import ExperimentalWorkPoolViewSet, WorkPoolViewSet, WorkQueueViewSet


def register(router: SimpleRouter) -> None:
    """Add this app's resources to the API router."""
    router.register("flows", FlowViewSet, basename="flows")
    router.register("deployments", DeploymentViewSet, basename="deployments")
    router.register("work_queues", WorkQueueViewSet, basename="work_queues")
    router.register("saved_searches", SavedSearchViewSet, basename="saved_searches")
    router.register(
        "flow_run_notification_policies", NotificationPolicyViewSet, basename="flow_run_notification_policies"
    )
    router.register("work_pools", WorkPoolViewSet, basename="work_pools")
    router.register("experimental/work_pools", ExperimentalWorkPoolViewSet, basename="experimental_work_pools")
    router.register("ui/schemas", UISchemaViewSet, basename="ui_schemas")
    router.register("collections", CollectionViewSet, basename="collections")
