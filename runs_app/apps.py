"""Flow runs, task runs, their states, logs and concurrency limits."""

from django.apps import AppConfig


class RunsAppConfig(AppConfig):
    """App holding runs and the orchestration engine."""

    name = "runs_app"
    verbose_name = "Runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orion_project.metrics import register_collector
        from runs_app.metrics import run_metrics

        register_collector(run_metrics)
