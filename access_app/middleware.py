"""The API's front door: refuse foreign origins, then find who calls (a Bearer key, or
the session of a signed-in dashboard user), check they belong to the request's
workspace and have the role the route needs (``access_app.roles``), and record writes
and refusals in the audit trail (``access_app.services.audit``).

It runs on every ``/api`` request, so it costs at most one indexed query (by key hash,
usually answered from the short cache in ``access_app.selectors``); a read costs no
write, a write one INSERT (its audit row).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from access_app import sessions
from access_app.models import Role
from access_app.principal import Principal
from access_app.roles import DESTRUCTIVE_PATHS, OPEN_PATHS, is_read, required_role, write_template
from access_app.selectors import api_key_lookup
from access_app.services.audit import audit_api_write, audit_refusal
from orion_project.workspaces import WorkspaceRef

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


class Refusal(Exception):
    """Why the door turns a request away: its status, the client's message, and the short
    reason the audit trail keeps (no secret in either)."""

    def __init__(self, status: int, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.reason = status, detail, reason

    def response(self) -> JsonResponse:
        response = JsonResponse({"detail": self.detail}, status=self.status)
        if self.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="orion"'
        return response


def origin_allowed(request: HttpRequest, origin: str) -> bool:
    """The server's own origin, or one listed in ``ORION_CORS_ORIGINS``."""
    return origin in settings.CORS_ALLOWED_ORIGINS or sessions.is_own_origin(request, origin)


def bearer_key(request: HttpRequest) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, as both Prefect clients send it."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


class ApiAccessMiddleware:
    """Enforce ``ORION_AUTH``, the roles and the allowed origins on ``/api`` requests, and
    keep the audit trail of what they write."""

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
        if not path.startswith("/api/"):
            return self.get_response(request)
        workspace: WorkspaceRef = request.workspace  # type: ignore[attr-defined]
        try:
            check_origin(request)
            if path in OPEN_PATHS:
                return self.get_response(request)
            principal = self.check(request, path, workspace)
        except Refusal as refusal:
            audit_refusal(
                request,
                status=refusal.status,
                reason=refusal.reason,
                workspace_id=workspace.id,
                workspace_slug=workspace.slug,
            )
            return refusal.response()
        request.principal = principal  # type: ignore[attr-defined]
        response = self.get_response(request)
        method = request.method or "GET"
        # A 503 is the database-outage answer: nothing was written, and the audit row
        # could not be either (trying would only make the client wait a second time).
        if settings.ORION_AUDIT_API_WRITES and response.status_code != 503 and not is_read(method, path):
            template = write_template(method, path)
            audit_api_write(request, response, principal=principal, workspace_slug=workspace.slug, template=template)
        return response

    def check(self, request: HttpRequest, path: str, workspace: WorkspaceRef) -> Principal:
        """The caller of this request, or the :class:`Refusal` that turns it away."""
        if settings.ORION_AUTH == AUTH_API_KEY:
            principal = self.authenticate(request, workspace)
        else:
            principal = Principal(kind="anonymous", name="anonymous", role=Role.ADMIN, workspace_id=workspace.id)
        method = request.method or "GET"
        needed = required_role(method, path)
        if not principal.may(needed):
            shown = getattr(request, "workspace_path", path)
            raise Refusal(
                403,
                f"{principal_label(principal)} has the {principal.role} role in the workspace {workspace.slug!r}; "
                f"{method} {shown} needs {needed}.",
                "role",
            )
        if path in DESTRUCTIVE_PATHS and not settings.DEBUG and principal.kind == "anonymous":
            raise Refusal(403, "Clearing the database needs DJANGO_DEBUG on or an admin's API key.", "destructive")
        return principal

    def authenticate(self, request: HttpRequest, workspace: WorkspaceRef) -> Principal:
        """A Bearer key of this workspace, or else the session of a signed-in member."""
        raw = bearer_key(request)
        if raw is None:
            try:
                principal = sessions.session_principal(request, workspace_id=workspace.id)
            except sessions.SessionRefused as refused:
                raise Refusal(refused.status, refused.detail, "session") from None
            if principal is None:
                raise Refusal(
                    401, "Not authenticated: send an API key as 'Authorization: Bearer <key>'.", "no credentials"
                )
            return principal
        key = api_key_lookup(raw=raw)
        if key is None:
            # Unknown, or its workspace was deleted (keys go with their workspace).
            raise Refusal(401, "Invalid API key.", "invalid key")
        problem = key.problem(timezone.now())
        if problem is not None:
            raise Refusal(403, problem, "revoked or expired key")
        if key.workspace_id != workspace.id:
            raise Refusal(
                403,
                f"The API key {key.name!r} belongs to another workspace than {workspace.slug!r}.",
                "other workspace",
            )
        return Principal(kind="key", name=key.name, role=key.role, workspace_id=key.workspace_id, api_key_id=key.id)


def check_origin(request: HttpRequest) -> None:
    """A page on another origin can send "simple" requests (no preflight) that CORS alone
    does not stop; refuse them before they do anything."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin and not origin_allowed(request, origin):
        raise Refusal(403, f"Requests from the origin {origin} are not allowed (see ORION_CORS_ORIGINS).", "origin")


def principal_label(principal: Principal) -> str:
    """How refusals name the caller."""
    if principal.kind == "key":
        return f"The API key {principal.name!r}"
    if principal.kind == "user":
        return f"The user {principal.name!r}"
    return "An anonymous caller"
