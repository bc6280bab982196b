"""The flows app's viewsets on the API router."""

from rest_framework.routers import SimpleRouter

from flows_app.api.views import FlowViewSet


def register(router: SimpleRouter) -> None:
    """Add this app's resources to the API router."""
    router.register("flows", FlowViewSet, basename="flows")
