"""System checks that reject bad configuration with a clear message."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from orion_project.config import CONFIG_ERRORS


@register(Tags.compatibility)
def check_environment(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """Report environment variables that could not be understood, and unsafe production setups."""
    problems: list[Error | Warning] = [
        Error(message, id="orion.E001", hint="Fix the environment variable and restart.") for message in CONFIG_ERRORS
    ]
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        engine = settings.DATABASES["default"]["ENGINE"]
        if engine.endswith("postgresql"):
            problems.append(
                Warning(
                    "DJANGO_SECRET_KEY is not set while running on PostgreSQL.",
                    id="orion.W001",
                    hint="Set DJANGO_SECRET_KEY to a long random string in production.",
                )
            )
    limit = settings.ORION_API_DEFAULT_LIMIT
    if limit < 1:
        problems.append(Error("ORION_API_DEFAULT_LIMIT must be at least 1.", id="orion.E003"))
    return problems
