"""Request bodies sent without a ``Content-Length``, read before Django sees them.

Django reads ``CONTENT_LENGTH`` bytes of ``wsgi.input``, and none when it is absent. A
body sent with ``Transfer-Encoding: chunked`` (what HTTP clients and proxies send for a
streamed body) has no length, so every view read it as empty: a filter answered the
unfiltered page, a create "field required", and the body limit was never applied.

granian hands the application the de-chunked body, readable to its end, with
``HTTP_TRANSFER_ENCODING`` and no ``CONTENT_LENGTH``. :class:`ChunkedBodyMiddleware` reads
it, at most the body limit plus one byte (so an endless body costs no more memory than a
large one), answers 413 past the limit, and otherwise hands Django the bytes with their
length, as if the client had sent one. What it refuses, as ``{"detail": ...}`` like the
other refusals of a body:

* 400, a chunked body that reads as empty. granian ends a malformed or cut-off chunked
  body where it goes wrong, without telling the application: the bytes before read as
  the whole body. A JSON document cut short does not parse (422), but one cut before its
  first byte would read as "no body", the one reading that must never happen by accident
  (it is what made a bulk delete reach every run); a client with nothing to send sends
  ``Content-Length: 0``. This also covers a server that does not de-chunk (Django's
  ``runserver`` reads nothing of such a body).
* 400, ``Transfer-Encoding`` beside ``Content-Length``: the two framings of the body
  disagree, the shape of request smuggling. granian itself drops ``Content-Length`` then
  and closes the connection after the answer; a server that passes both is refused here.
* 501, any transfer coding but ``chunked`` alone: granian passes it through undecoded.

Requests with a ``Content-Length`` (every request of the Prefect client) pass straight
through.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from django.conf import settings

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Bytes asked of ``wsgi.input`` per read: granian fills a read from the body's frames as
# they arrive, so each read holds at most this much beyond what is already kept.
READ_SIZE = 64 * 1024


def body_too_large_message() -> str:
    """The 413 detail, naming the configured limit."""
    return f"Request body too large: the limit is {settings.ORION_MAX_REQUEST_BODY_BYTES} bytes."


EMPTY_CHUNKED_MESSAGE = (
    "The chunked request body was empty or malformed. Send a well-formed chunked body, "
    "or send the body with Content-Length (Content-Length: 0 for no body)."
)
BOTH_FRAMINGS_MESSAGE = "A request must not carry both Transfer-Encoding and Content-Length."


class ChunkedBodyMiddleware:
    """A WSGI wrapper: a chunked request body becomes one with a ``Content-Length``."""

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        coding = environ.get("HTTP_TRANSFER_ENCODING")
        if coding is None:
            return self.application(environ, start_response)
        if environ.get("CONTENT_LENGTH"):
            return _refuse(start_response, "400 Bad Request", BOTH_FRAMINGS_MESSAGE)
        if [part.strip().lower() for part in coding.split(",")] != ["chunked"]:
            message = (
                f"Transfer-Encoding {coding!r} is not supported: send the body with "
                "Content-Length, or with Transfer-Encoding: chunked alone."
            )
            return _refuse(start_response, "501 Not Implemented", message)
        limit = settings.ORION_MAX_REQUEST_BODY_BYTES
        body = read_at_most(environ["wsgi.input"], limit + 1)
        if len(body) > limit:
            return _refuse(start_response, "413 Request Entity Too Large", body_too_large_message())
        if not body:
            return _refuse(start_response, "400 Bad Request", EMPTY_CHUNKED_MESSAGE)
        del environ["HTTP_TRANSFER_ENCODING"]
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        return self.application(environ, start_response)


def read_at_most(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``, read in pieces until it ends.

    Only sized reads: granian's ``read()`` without a size drops what a sized read has
    already buffered, and reads without bound.
    """
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(min(READ_SIZE, remaining))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _refuse(start_response: Callable[..., Any], status: str, message: str) -> list[bytes]:
    """Answer ``{"detail": message}``."""
    payload = orjson.dumps({"detail": message})
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
