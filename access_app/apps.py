"""API keys: who may call the API, and with which scope."""

from django.apps import AppConfig


class AccessAppConfig(AppConfig):
    """Holds API keys, the request check that enforces them, and its system checks."""

    name = "access_app"
    verbose_name = "Access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from access_app import checks  # noqa: F401  (registers the checks)
