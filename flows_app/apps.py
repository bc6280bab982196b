"""Flows, deployments and the resources that place runs on infrastructure."""

from django.apps import AppConfig


class FlowsAppConfig(AppConfig):
    """App holding flows and deployments."""

    name = "flows_app"
    verbose_name = "Flows and deployments"
    default_auto_field = "django.db.models.BigAutoField"
