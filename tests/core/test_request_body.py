"""The WSGI wrapper that reads chunked request bodies (``orion_project.request_body``),
fed the framings granian never hands the application; the real server's answers are in
``tests/api/test_chunked_bodies.py``."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orion_project.request_body import ChunkedBodyMiddleware


def call(environ: dict[str, Any]) -> tuple[str, dict[str, Any] | None, dict[str, Any]]:
    """Run the wrapper around an application that records what it was given:
    ``(status, environ the application saw or None, JSON answer)``."""
    seen: list[dict[str, Any]] = []

    def application(env: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append({**env, "body": env["wsgi.input"].read(int(env.get("CONTENT_LENGTH") or 0))})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    statuses: list[str] = []
    answer = b"".join(ChunkedBodyMiddleware(application)(environ, lambda status, headers: statuses.append(status)))
    return statuses[0], (seen[0] if seen else None), json.loads(answer)


def environ(body: bytes, **headers: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/flows/", "wsgi.input": io.BytesIO(body), **headers}


def test_a_request_with_a_length_passes_untouched() -> None:
    given = environ(b'{"name": "x"}', CONTENT_LENGTH="13")
    stream = given["wsgi.input"]
    status, seen, _ = call(given)
    assert status == "200 OK" and seen is not None
    assert seen["wsgi.input"] is stream and seen["body"] == b'{"name": "x"}'


def test_the_wrapper_hands_django_the_body_with_its_length(settings: Any) -> None:
    settings.ORION_MAX_REQUEST_BODY_BYTES = 1024
    status, seen, _ = call(environ(b"x" * 1024, HTTP_TRANSFER_ENCODING="Chunked"))
    assert status == "200 OK" and seen is not None
    assert (seen["CONTENT_LENGTH"], seen["body"], "HTTP_TRANSFER_ENCODING" in seen) == ("1024", b"x" * 1024, False)
    status, seen, answer = call(environ(b"x" * 1025, HTTP_TRANSFER_ENCODING="chunked"))
    assert (status, seen) == ("413 Request Entity Too Large", None)
    assert answer == {"detail": "Request body too large: the limit is 1024 bytes."}


def test_both_framings_are_refused_by_the_wrapper() -> None:
    """A server that passes both headers on (granian drops the length itself)."""
    status, seen, answer = call(environ(b"{}", HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="2"))
    assert (status, seen) == ("400 Bad Request", None)
    assert answer == {"detail": "A request must not carry both Transfer-Encoding and Content-Length."}


def test_a_server_that_does_not_dechunk_gets_a_refusal_not_an_empty_body() -> None:
    """Django's runserver leaves a chunked body unread: the wrapper reads nothing."""
    status, seen, answer = call(environ(b"", HTTP_TRANSFER_ENCODING="chunked"))
    assert (status, seen) == ("400 Bad Request", None)
    assert "chunked request body was empty or malformed" in answer["detail"]


def test_the_wsgi_module_serves_the_wrapped_application() -> None:
    from orion_project import wsgi

    assert isinstance(wsgi.application, ChunkedBodyMiddleware)
    assert Path(wsgi.__file__).name == "wsgi.py"
