"""App config for project-wide pieces (system checks, API plumbing)."""

from django.apps import AppConfig


class OrionProjectConfig(AppConfig):
    """Registers the configuration system checks and the custom database lookups."""

    name = "orion_project"
    verbose_name = "Orion"

    def ready(self) -> None:
        from orion_project import checks  # noqa: F401  (registers the checks)
        from orion_project.db import register_lookups
        from orion_project.metrics import register_collector, service_metrics

        register_lookups()
        register_collector(service_metrics)
