"""App config for project-wide pieces (system checks, API plumbing)."""

from typing import Any

from django.apps import AppConfig
from django.db import connections


def ensure_default_workspace(*, using: str = "default", **kwargs: Any) -> None:
    """The workspace ``default`` (id 1) exists after ``migrate`` and after ``flush`` (which
    empties every table, then sends ``post_migrate``): every un-prefixed ``/api`` request
    writes into it."""
    from orion_project.models import DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_SLUG, Workspace

    _, created = Workspace.objects.using(using).get_or_create(
        id=DEFAULT_WORKSPACE_ID, defaults={"slug": DEFAULT_WORKSPACE_SLUG, "name": "Default workspace"}
    )
    connection = connections[using]
    if created and connection.vendor == "postgresql":
        # An explicit id leaves the sequence behind; the next workspace must not take id 1.
        table = Workspace._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")


class OrionProjectConfig(AppConfig):
    """Registers the configuration system checks and the custom database lookups."""

    name = "orion_project"
    verbose_name = "Orion"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from orion_project import checks  # noqa: F401  (registers the checks)
        from orion_project.db import fast_timestamptz_loader, register_lookups
        from orion_project.metrics import register_collector, service_metrics

        register_lookups()
        connection_created.connect(fast_timestamptz_loader, dispatch_uid="orion-fast-timestamptz")
        register_collector(service_metrics)
        post_migrate.connect(ensure_default_workspace, sender=self, dispatch_uid="orion-default-workspace")
