"""Who is logging in to the admin, for the login lockout (django-axes, settings ``AXES_*``)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def login_client_address(request: HttpRequest) -> str | None:
    """The address an admin login attempt came from.

    Behind the TLS-terminating proxy (``ORION_BEHIND_TLS``) every connection comes from the
    proxy, so the client is the last address in ``X-Forwarded-For``: the one the proxy
    appended itself (the ones before it are whatever the client sent, and can be forged).
    Otherwise the peer address, which nobody can forge.
    """
    if settings.ORION_BEHIND_TLS:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")
