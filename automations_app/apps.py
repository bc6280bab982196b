"""Automations: triggers evaluated over the event log, and the actions they start."""

from django.apps import AppConfig


class AutomationsAppConfig(AppConfig):
    """App holding automations, their trigger state and their pending actions."""

    name = "automations_app"
    verbose_name = "Automations"
    default_auto_field = "django.db.models.BigAutoField"
