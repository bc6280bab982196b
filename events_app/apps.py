"""Events: what happened to which resource, recorded append-only and read by filters, counts,
the ``/events/out`` stream and the automations' triggers."""

from django.apps import AppConfig


class EventsAppConfig(AppConfig):
    """App holding the event log."""

    name = "events_app"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from events_app.services.retention import events_retention_service
        from orion_project.registry import Service, register_services, register_websocket

        register_services(
            lambda: [Service("events_retention", events_retention_service, settings.ORION_RETENTION_INTERVAL_SECONDS)]
        )
        register_websocket("/api/events/in", "events_app.api.sockets.events_in")
        register_websocket("/api/events/out", "events_app.api.sockets.events_out")
