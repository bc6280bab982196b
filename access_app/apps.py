"""Access: workspaces' administration, API keys and roles, who may call which route, and
the audit trail."""

from django.apps import AppConfig


class AccessAppConfig(AppConfig):
    """Holds API keys, the request check that enforces them, the workspace services, the
    audit trail and the system checks."""

    name = "access_app"
    verbose_name = "Access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.contrib.admin.models import LogEntry, LogEntryManager
        from django.db.models.signals import post_save

        from access_app import checks  # noqa: F401  (registers the checks)
        from access_app.services.audit import audit_command_in, audit_retention_service, record_bulk_admin_entries
        from access_app.services.workspaces import workspace_purge
        from orion_project.registry import (
            Service,
            register_command_auditor,
            register_services,
            register_workspace_purge,
        )

        register_workspace_purge(lambda workspace_id: workspace_purge(workspace_id=workspace_id))
        register_command_auditor(audit_command_in)
        register_services(
            lambda: [Service("audit_retention", audit_retention_service, settings.ORION_RETENTION_INTERVAL_SECONDS)]
        )
        post_save.connect(_audit_log_entry, sender=LogEntry, dispatch_uid="access_app.audit_log_entry")
        record_bulk_admin_entries(LogEntryManager)


def _audit_log_entry(sender: object, instance: object, created: bool, **kwargs: object) -> None:
    """Every admin add, change and delete the admin logs is recorded in the audit trail."""
    if created:
        from access_app.services.audit import audit_admin_entry

        audit_admin_entry(instance)  # type: ignore[arg-type]
