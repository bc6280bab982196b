"""The ``X-PREFECT-API-VERSION`` request-header check (reference §G.9)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from axes import middleware as axes_middleware
from corsheaders import middleware as cors_middleware
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware import clickjacking
from django.middleware import csrf as csrf_middleware
from django.utils.cache import patch_vary_headers

from orion_project.request_body import body_too_large_message

API_VERSION_HEADER = "X-PREFECT-API-VERSION"
# The header's WSGI name: ``request.headers`` would build a dictionary of every header
# on each request to answer this one lookup.
API_VERSION_META = "HTTP_X_PREFECT_API_VERSION"

# Routes the reference leaves outside its routers, so the header is not checked there.
UNCHECKED_API_PATHS = ("/api/health", "/api/docs", "/api/openapi.json", "/api/redoc")


@functools.lru_cache(maxsize=64)
def parse_api_version(raw: str) -> tuple[int, int, int] | None:
    """``"0.8.4"`` → ``(0, 8, 4)``; anything but three dot-separated integers → ``None``.

    Kept for the few values clients send: every API request is checked with it.
    """
    parts = raw.split(".")
    if len(parts) != 3 or not all(part.strip().isdigit() for part in parts):
        return None
    major, minor, patch = (int(part) for part in parts)
    return major, minor, patch


def api_version_error(raw: str) -> str | None:
    """The 400 message for a header value the server refuses, or ``None`` if it is fine."""
    version = parse_api_version(raw)
    if version is None:
        return f"Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received {raw}"
    minimum = parse_api_version(settings.ORION_MIN_API_VERSION)
    assert minimum is not None
    if version < minimum:
        return (
            f"The request specified API version {raw} but this server requires version "
            f"{settings.ORION_MIN_API_VERSION} or higher."
        )
    return None


class CorsMiddleware(cors_middleware.CorsMiddleware):
    """django-cors-headers, answering a request without an ``Origin`` header from the
    environ.

    A request without one (every Prefect client, agent and worker: they are not
    browsers) gets only ``Vary: Origin`` from the stock middleware, which builds
    ``request.headers``, a dictionary of every header, to find that out.
    """

    def add_response_headers(self, request: HttpRequest, response: Any) -> Any:
        if request.META.get("HTTP_ORIGIN"):
            return super().add_response_headers(request, response)
        enabled = getattr(request, "_cors_enabled", None)
        if enabled is None:
            enabled = self.is_enabled(request)
        if enabled:
            patch_vary_headers(response, ("origin",))
        return response


class ApiVersionMiddleware:
    """Refuse API requests whose ``X-PREFECT-API-VERSION`` is malformed or too old.

    An absent header is treated as the latest version. The parsed version is kept on the
    request (``request.orion_api_version``) because orchestration depends on it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.latest = parse_api_version(settings.ORION_API_VERSION)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith("/api/") and not path.startswith(UNCHECKED_API_PATHS):
            raw = request.META.get(API_VERSION_META)
            version = self.latest
            if raw is not None:
                message = api_version_error(raw)
                if message is not None:
                    return JsonResponse({"detail": message}, status=400)
                version = parse_api_version(raw)
            request.orion_api_version = version  # type: ignore[attr-defined]
        return self.get_response(request)


class RequestLimitsMiddleware:
    """Refuse, before any view runs, API requests no route could store.

    * a declared body over ``ORION_MAX_REQUEST_BODY_BYTES``: 413 without reading it (a
      chunked body gets its length from ``orion_project.request_body`` before this runs);
    * a path or query string holding a NUL character: 422, since PostgreSQL cannot compare
      text with NUL in it and every path segment and query value reaches a query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            refused = self.refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    @staticmethod
    def refusal(request: HttpRequest) -> HttpResponse | None:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.ORION_MAX_REQUEST_BODY_BYTES:
            return JsonResponse({"detail": body_too_large_message()}, status=413)
        for location, text in (("path", request.path), ("query", request.META.get("QUERY_STRING", ""))):
            if "\x00" in text or "%00" in text:
                return JsonResponse(
                    {
                        "exception_message": "Invalid request received.",
                        "exception_detail": [
                            {"loc": [location], "msg": NUL_MESSAGE, "type": "value_error.null_characters"}
                        ],
                        "request_body": None,
                    },
                    status=422,
                )
        return None


NUL_MESSAGE = "Null characters are not allowed."


# ------------------------------------------------------------------ browser-only middleware

API_PREFIX = "/api/"


def browser_only(middleware: type[Any]) -> type[Any]:
    """``middleware`` for the admin and the docs pages, skipped on ``/api/`` requests.

    Sessions, authentication, messages, CSRF and frame options serve the browser pages;
    the Prefect client sends no cookie and no CSRF token, and the API's views use none of
    them. Skipping them there saves their work on every API call (issue #12). Subclasses,
    so Django's admin checks still find the middleware they require.
    """

    class BrowserOnly(middleware):  # type: ignore[misc,valid-type]
        def __call__(self, request: HttpRequest) -> HttpResponse:
            if request.path_info.startswith(API_PREFIX):
                return self.get_response(request)  # type: ignore[no-any-return]
            return super().__call__(request)  # type: ignore[no-any-return]

        if hasattr(middleware, "process_view"):

            def process_view(self, request: HttpRequest, *args: Any) -> HttpResponse | None:
                if request.path_info.startswith(API_PREFIX):
                    return None
                return super().process_view(request, *args)  # type: ignore[no-any-return]

    BrowserOnly.__name__ = BrowserOnly.__qualname__ = middleware.__name__
    BrowserOnly.__module__ = __name__
    return BrowserOnly


SessionMiddleware = browser_only(sessions_middleware.SessionMiddleware)
CsrfViewMiddleware = browser_only(csrf_middleware.CsrfViewMiddleware)
AuthenticationMiddleware = browser_only(auth_middleware.AuthenticationMiddleware)
MessageMiddleware = browser_only(messages_middleware.MessageMiddleware)
XFrameOptionsMiddleware = browser_only(clickjacking.XFrameOptionsMiddleware)
AxesMiddleware = browser_only(axes_middleware.AxesMiddleware)
