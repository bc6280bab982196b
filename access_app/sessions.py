"""The signed-in dashboard's side of API authentication: a browser session of a user who
is a member of the request's workspace.

The access middleware calls :func:`session_principal` for an ``/api`` request that sends
no API key. The session is loaded only when its cookie is there, so the API's clients
(which send none) pay nothing. A session is accepted only from this server's own pages
(``Origin`` and ``Sec-Fetch-Site``), and every unsafe method must carry the CSRF token the
dashboard asked for (``orion_project.session_csrf``): a page on another site can make the
browser send the cookie, but neither read a token nor forge one.
"""

from __future__ import annotations

from importlib import import_module
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest

from access_app.members import workspace_role
from access_app.principal import Principal
from orion_project.session_csrf import CLIENT_HEADER, TOKEN_HEADER, token_valid

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a browser says of a request from this server's own page (or typed in the address bar).
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})
INVALID_CSRF_DETAIL = "Invalid CSRF token or client: ask GET /api/csrf-token?client=... again."


class SessionRefused(Exception):
    """A signed-in session that may not send this request; the middleware answers
    ``status`` with ``{"detail": detail}`` (the 2.20 dashboard fetches a new token and
    retries once on a 403 whose detail holds ``Invalid CSRF token``)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def session_principal(request: HttpRequest, *, workspace_id: int) -> Principal | None:
    """The signed-in user of this request as a principal of ``workspace_id``, with their
    role there; ``None`` when the request carries no signed-in session. Raises
    :class:`SessionRefused` for a session that is signed in but may not send this request:
    from a foreign page, an unsafe method without a valid CSRF token, or a user who is not
    a member of the workspace."""
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    if not same_origin(request):
        raise SessionRefused(403, "A signed-in session is accepted from this server's own pages only.")
    if not hasattr(request, "session"):
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = get_user(request)
    if not user.is_authenticated:
        return None
    request.user = user
    if request.method not in SAFE_METHODS and not token_valid(
        session_key=session_key, client=request.headers.get(CLIENT_HEADER), token=request.headers.get(TOKEN_HEADER)
    ):
        raise SessionRefused(403, INVALID_CSRF_DETAIL)
    role = workspace_role(user, workspace_id=workspace_id)
    if role is None:
        raise SessionRefused(403, f"The user {user.get_username()!r} is not a member of this workspace.")
    return Principal(kind="user", name=user.get_username(), role=role, workspace_id=workspace_id, user_id=user.pk)


def same_origin(request: HttpRequest) -> bool:
    """No ``Origin`` but this server's, and a fetch the browser calls same-origin (the
    headers are absent from clients other than browsers, which send no cookie here)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in SAME_SITE_FETCHES:
        return False
    origin = request.headers.get("Origin")
    return origin is None or is_own_origin(request, origin)


def is_own_origin(request: HttpRequest, origin: str) -> bool:
    """Whether ``origin`` is the host this request was sent to."""
    try:
        own = request.get_host()
    except DisallowedHost:
        return False
    return urlsplit(origin).netloc.lower() == own.lower()
