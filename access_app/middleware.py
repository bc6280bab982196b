"""The API's front door: refuse foreign origins, then check the key and its scope.

It runs on every ``/api`` request, so it costs at most one indexed query (by key hash,
usually answered from the short cache in ``access_app.selectors``) and never a write
per request.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from access_app.models import SCOPE_RANK, Role, Scope
from access_app.scopes import DESTRUCTIVE_PATHS, OPEN_PATHS, required_scope
from access_app.selectors import KeyInfo, api_key_lookup
from access_app.sessions import SessionRefused, is_own_origin, session_principal

logger = logging.getLogger("orion.access")

AUTH_NONE = "none"
AUTH_API_KEY = "api-key"
LOOPBACK_NAMES = frozenset({"localhost", "testserver", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``[::1]``, ``localhost``: reachable from this machine only."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposed_hosts() -> list[str]:
    """The configured host names other machines could reach the server by."""
    hosts = [settings.ORION_HOST, *settings.ALLOWED_HOSTS]
    return [host for host in hosts if not is_loopback(host)]


def _refuse(status: int, detail: str) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="orion"'
    return response


def origin_allowed(request: HttpRequest, origin: str) -> bool:
    """The server's own origin, or one listed in ``ORION_CORS_ORIGINS``."""
    return origin in settings.CORS_ALLOWED_ORIGINS or is_own_origin(request, origin)


def bearer_key(request: HttpRequest) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, as both Prefect clients send it."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


# The role a dashboard user needs for what a key needs a scope for.
SESSION_ROLE = {Scope.READ: Role.VIEWER, Scope.WRITE: Role.DEVELOPER, Scope.ADMIN: Role.ADMIN}


class ApiAccessMiddleware:
    """Enforce ``ORION_AUTH`` and the allowed origins on ``/api`` requests."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        if settings.ORION_AUTH == AUTH_NONE and exposed_hosts():
            logger.warning(
                "ORION_AUTH=none while the server answers to %s: anyone who can reach it may "
                "use the whole API. Set ORION_AUTH=api-key (see README, 'Deploying safely').",
                ", ".join(exposed_hosts()),
            )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith("/api/"):
            refusal = self.check(request, path)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def check(self, request: HttpRequest, path: str) -> HttpResponse | None:
        """The refusal for this request, or ``None`` to let it through."""
        # A page on another origin can send "simple" requests (no preflight) that CORS
        # alone does not stop; refuse them before they do anything.
        origin = request.META.get("HTTP_ORIGIN")
        if origin and not origin_allowed(request, origin):
            return _refuse(403, f"Requests from the origin {origin} are not allowed (see ORION_CORS_ORIGINS).")
        if path in OPEN_PATHS:
            return None
        key: KeyInfo | None = None
        if settings.ORION_AUTH == AUTH_API_KEY:
            raw = bearer_key(request)
            if raw is None:
                return self.check_session(request, path)
            key = api_key_lookup(raw=raw)
            if key is None:
                return _refuse(401, "Invalid API key.")
            problem = key.problem(timezone.now())
            if problem is not None:
                return _refuse(403, problem)
            needed = required_scope(request.method or "GET", path)
            if SCOPE_RANK[key.scope] < SCOPE_RANK[needed]:
                return _refuse(
                    403, f"The API key {key.name!r} has the {key.scope} scope; {request.method} {path} needs {needed}."
                )
            request.orion_api_key = key  # type: ignore[attr-defined]
        if path in DESTRUCTIVE_PATHS and not settings.DEBUG and (key is None or key.scope != Scope.ADMIN):
            return _refuse(403, "Clearing the database needs DJANGO_DEBUG on or an API key with the admin scope.")
        return None

    @staticmethod
    def check_session(request: HttpRequest, path: str) -> HttpResponse | None:
        """A request without a key: the signed-in dashboard's session, with the user's role."""
        try:
            principal = session_principal(request, workspace_id=request.workspace.id)  # type: ignore[attr-defined]
        except SessionRefused as refused:
            return _refuse(refused.status, refused.detail)
        if principal is None:
            return _refuse(401, "Not authenticated: send an API key as 'Authorization: Bearer <key>'.")
        needed = SESSION_ROLE[required_scope(request.method or "GET", path)]
        if not principal.may(needed) or path in DESTRUCTIVE_PATHS:
            return _refuse(
                403,
                f"The user {principal.name!r} has the {principal.role} role; {request.method} {path} needs {needed}.",
            )
        request.principal = principal  # type: ignore[attr-defined]
        return None
