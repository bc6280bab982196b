"""The signed-in dashboard's side of API authentication: a browser session of a user who
is a member of the request's workspace (filled in by the dashboard work of issue #21)."""

from __future__ import annotations

from django.http import HttpRequest

from access_app.principal import Principal


def session_principal(request: HttpRequest, *, workspace_id: int) -> Principal | None:
    """The signed-in user of this request as a principal of ``workspace_id``, or ``None``
    when the request carries no usable session."""
    return None
