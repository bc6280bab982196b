"""The events app's routes: its viewset on the API router, and ``POST /events`` itself
(a collection path without the trailing slash the router gives collections)."""

from django.urls import URLPattern, path
from rest_framework.routers import SimpleRouter

from events_app.api.views import EventViewSet


def register(router: SimpleRouter) -> None:
    """Add ``/events/filter``, ``/events/filter/next`` and ``/events/count-by/{countable}``."""
    router.register("events", EventViewSet, basename="events")


def urlpatterns() -> list[URLPattern]:
    """``POST /events``: record a batch."""
    return [path("events", EventViewSet.as_view({"post": "create_events"}), name="events-create")]
