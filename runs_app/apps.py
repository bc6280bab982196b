"""Flow runs, task runs, their states, logs and concurrency limits."""

from django.apps import AppConfig


class RunsAppConfig(AppConfig):
    """App holding runs and the orchestration engine."""

    name = "runs_app"
    verbose_name = "Runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from orion_project.metrics import register_collector
        from orion_project.registry import Service, register_reset, register_services
        from runs_app.background.late_runs import mark_late_runs
        from runs_app.background.liveness import liveness_service
        from runs_app.background.metrics import run_counts_refresh
        from runs_app.background.retention import retention_service
        from runs_app.background.slots import sweep_stale_slots
        from runs_app.metrics import run_metrics
        from runs_app.services.runs import runs_reset

        register_services(
            lambda: [
                Service("late_runs", lambda: mark_late_runs(), settings.ORION_LATE_RUNS_INTERVAL_SECONDS),
                Service("slots", lambda: sweep_stale_slots(), settings.ORION_SLOTS_INTERVAL_SECONDS),
                Service("liveness", liveness_service, settings.ORION_LIVENESS_INTERVAL_SECONDS),
                Service("metrics", run_counts_refresh, settings.ORION_METRICS_INTERVAL_SECONDS),
                Service("retention", retention_service, settings.ORION_RETENTION_INTERVAL_SECONDS),
            ]
        )
        register_collector(run_metrics)
        # Before the flows reset: its rows do not cascade from flows.
        register_reset(runs_reset, order=10)
