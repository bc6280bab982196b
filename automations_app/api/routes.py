"""The automations app's viewsets on the API router."""

from rest_framework.routers import SimpleRouter

from automations_app.api.views import AutomationViewSet, TemplateViewSet


def register(router: SimpleRouter) -> None:
    """Add this app's resources to the API router."""
    router.register("automations", AutomationViewSet, basename="automations")
    router.register("templates", TemplateViewSet, basename="templates")
