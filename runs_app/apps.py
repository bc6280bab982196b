"""Flow runs, task runs, their states, logs and concurrency limits."""

from django.apps import AppConfig


class RunsAppConfig(AppConfig):
    """App holding runs and the orchestration engine."""

    name = "runs_app"
    verbose_name = "Runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from orion_project.registry import Service, register_reset, register_services
        from runs_app.late_runs import mark_late_runs
        from runs_app.services import runs_reset

        register_services(
            lambda: [Service("late_runs", lambda: mark_late_runs(), settings.ORION_LATE_RUNS_INTERVAL_SECONDS)]
        )
        # Before the flows reset: its rows do not cascade from flows.
        register_reset(runs_reset, order=10)
