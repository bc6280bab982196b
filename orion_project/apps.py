"""App config for project-wide pieces (system checks, API plumbing)."""

from django.apps import AppConfig


class OrionProjectConfig(AppConfig):
    """Registers the configuration system checks and the custom database lookups."""

    name = "orion_project"
    verbose_name = "Orion"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from orion_project import checks  # noqa: F401  (registers the checks)
        from orion_project.db import fast_timestamptz_loader, register_lookups
        from orion_project.metrics import register_collector, service_metrics

        register_lookups()
        connection_created.connect(fast_timestamptz_loader, dispatch_uid="orion-fast-timestamptz")
        register_collector(service_metrics)
