"""Automations: triggers evaluated over the event log, and the actions they start."""

from django.apps import AppConfig


class AutomationsAppConfig(AppConfig):
    """App holding automations, their trigger state and their pending actions."""

    name = "automations_app"
    verbose_name = "Automations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from automations_app.actions import run_due_actions
        from automations_app.background.triggers import evaluate_proactive_triggers, evaluate_triggers
        from orion_project.registry import Service, register_services

        register_services(
            lambda: [
                Service(
                    "triggers",
                    lambda: evaluate_triggers(),
                    settings.ORION_TRIGGERS_INTERVAL_MS / 1000,
                    wakes=("actions",),
                ),
                Service(
                    "proactive_triggers",
                    lambda: evaluate_proactive_triggers(),
                    settings.ORION_TRIGGERS_PROACTIVE_INTERVAL_SECONDS,
                    wakes=("actions",),
                ),
                Service("actions", lambda: run_due_actions(), settings.ORION_ACTIONS_INTERVAL_SECONDS),
            ]
        )
