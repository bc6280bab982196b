"""System checks for access settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from access_app.middleware import AUTH_NONE, exposed_hosts


@register(Tags.security, deploy=True)
def check_auth_for_deployment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``: a server reachable from other machines should require API keys."""
    if settings.ORION_AUTH == AUTH_NONE and exposed_hosts():
        return [
            Warning(
                f"ORION_AUTH=none while the server answers to {', '.join(exposed_hosts())}.",
                id="orion.W002",
                hint="Set ORION_AUTH=api-key and create keys with 'manage.py orion_api_key create'.",
            )
        ]
    return []
