"""Flows, deployments and the resources that place runs on infrastructure."""

from django.apps import AppConfig


class FlowsAppConfig(AppConfig):
    """App holding flows and deployments."""

    name = "flows_app"
    verbose_name = "Flows and deployments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from flows_app.background.scheduler import schedule_deployments
        from flows_app.events import statuses_expire
        from flows_app.services.flows import flows_reset
        from orion_project.registry import Service, register_reset, register_services

        register_services(
            lambda: [
                Service("scheduler", lambda: schedule_deployments(), settings.ORION_SCHEDULER_INTERVAL_SECONDS),
                Service("statuses", lambda: statuses_expire(), settings.ORION_STATUSES_INTERVAL_SECONDS),
            ]
        )
        # Deleting flows cascades to deployments and runs, which point at block documents.
        register_reset(flows_reset, order=20)
