"""Events: what happened to which resource, recorded append-only and read by filters, counts,
the ``/events/out`` stream and the automations' triggers."""

from django.apps import AppConfig


class EventsAppConfig(AppConfig):
    """App holding the event log."""

    name = "events_app"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orion_project.registry import register_websocket

        register_websocket("/api/events/in", "events_app.api.sockets.events_in")
        register_websocket("/api/events/out", "events_app.api.sockets.events_out")
