"""One port for the HTTP API and its websockets: the ASGI application ``orion_start`` serves.

granian calls this application (``--interface asginl``) on its event loop. An HTTP request
is handed, whole, to the WSGI application (Django behind
:class:`~orion_project.request_body.ChunkedBodyMiddleware`) on one of a fixed set of
threads, as granian's WSGI interface did; a websocket goes to the handler an app
registered for its path (:func:`orion_project.registry.register_websocket`). Why this
model and not granian's WSGI or RSGI interface: docs/performance.md, "Serving".

A websocket handler receives a :class:`Websocket`, which also lets it run the handshake
through the WSGI application as an ordinary request (:meth:`Websocket.check_access`), so
the workspace door, the access rules (keys, roles) and the request metrics apply to a
websocket as to every HTTP route, from the one place that defines them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import queue
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The WSGI environ key that marks a websocket's handshake run through the WSGI
# application: not an HTTP_ header, so no client can set it.
WEBSOCKET_ENVIRON_KEY = "orion.websocket"
# Close codes (RFC 6455).
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
# A close frame's reason is at most 123 bytes.
_REASON_BYTES = 123


class WebsocketClosed(Exception):
    """The client went away (or closed the socket)."""


class Websocket:
    """One websocket connection, as its handler sees it."""

    def __init__(self, app: OrionServer, scope: Scope, receive: Receive, send: Send) -> None:
        self.app, self.scope, self._receive, self._send = app, scope, receive, send
        self.closed = False

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered."""
        return [name.strip() for name in self.scope.get("subprotocols", ()) if name.strip()]

    def header(self, name: str) -> str | None:
        """A request header of the handshake (``name`` in lower case)."""
        wanted = name.encode("latin-1")
        for key, value in self.scope["headers"]:
            if key == wanted:
                return bytes(value).decode("latin-1")
        return None

    async def accept(self, subprotocol: str | None = None) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            raise WebsocketClosed()
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol})

    async def reject(self) -> None:
        """Refuse the handshake (the client sees HTTP 403)."""
        await self._receive()
        await self.close(CLOSE_POLICY_VIOLATION)

    async def receive_text(self) -> str | bytes:
        """The next message (text as ``str``, binary as ``bytes``); :class:`WebsocketClosed`
        when the client closed the connection."""
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self.closed = True
            raise WebsocketClosed()
        text = message.get("text")
        return text if text is not None else bytes(message.get("bytes") or b"")

    async def send_json(self, value: Any) -> None:
        if self.closed:
            raise WebsocketClosed()
        try:
            await self._send({"type": "websocket.send", "text": orjson.dumps(value).decode()})
        except (OSError, RuntimeError) as error:
            self.closed = True
            raise WebsocketClosed() from error

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        reason = reason.encode()[:_REASON_BYTES].decode(errors="ignore")
        with contextlib.suppress(OSError, RuntimeError):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def check_access(self, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
        """Run the handshake through the WSGI application as ``GET path`` (its own path,
        or the path of the route whose access rule applies) with ``token`` as the Bearer
        key when the client sent one in a message: the status and JSON body it answers."""
        headers = [(k, v) for k, v in self.scope["headers"] if k not in (b"authorization", b"upgrade", b"connection")]
        if token:
            headers.append((b"authorization", f"Bearer {token}".encode("latin-1", "replace")))
        elif (authorization := self.header("authorization")) is not None:
            headers.append((b"authorization", authorization.encode("latin-1")))
        scope = {**self.scope, "type": "http", "method": "GET", "path": path, "headers": headers, "query_string": b""}
        environ = wsgi_environ(scope, b"")
        environ[WEBSOCKET_ENVIRON_KEY] = True
        status, _, body = await self.app.call_wsgi(environ)
        try:
            answer = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            answer = {}
        return status, answer if isinstance(answer, dict) else {}

    async def run_sync(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``function`` (which may use the database) on one of the server's threads."""
        return await self.app.run_sync(functools.partial(function, *args, **kwargs))


WebsocketHandler = Callable[[Websocket], Awaitable[None]]


class Threads:
    """A fixed set of threads that run blocking calls (the WSGI application, the database)
    for the event loop: each call is queued, and its result set on the loop's future."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.jobs: queue.SimpleQueue[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]]
        ] = queue.SimpleQueue()
        self.started = False
        self.lock = threading.Lock()

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        if not self.started:
            self._start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.jobs.put((loop, future, function, args))
        return await future

    def _start(self) -> None:
        with self.lock:
            if not self.started:
                for number in range(self.count):
                    threading.Thread(target=self._work, name=f"orion-http-{number}", daemon=True).start()
                self.started = True

    def _work(self) -> None:
        while True:
            loop, future, function, args = self.jobs.get()
            try:
                result = function(*args)
            except BaseException as error:
                loop.call_soon_threadsafe(_fail, future, error)
            else:
                loop.call_soon_threadsafe(_succeed, future, result)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


class OrionServer:
    """The ASGI application: HTTP to the WSGI application on ``threads`` threads, websockets
    to the handler registered for their path (others are refused)."""

    def __init__(
        self,
        wsgi: WSGIApplication,
        *,
        threads: int,
        max_body_bytes: int,
        websockets: Callable[[str], WebsocketHandler | None],
    ) -> None:
        self.wsgi = wsgi
        self.max_body_bytes = max_body_bytes
        self.threads = Threads(threads)
        self.websocket_handler = websockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)

    async def run_sync(self, function: Callable[..., Any], *args: Any) -> Any:
        return await self.threads.run(function, *args)

    async def call_wsgi(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return await self.run_sync(self._call_wsgi, environ)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await self._read_body(receive) if _has_body(scope) else b""
        status, headers, content = await self.call_wsgi(wsgi_environ(scope, body))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _read_body(self, receive: Receive) -> bytes:
        """The request body, at most one byte past the body limit: the WSGI application
        answers 413 beyond it, as it does when granian streams the body."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            if chunk and size <= self.max_body_bytes:
                chunks.append(chunk)
                size += len(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    def _call_wsgi(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            started[:] = [status, headers]
            return _no_write

        result = self.wsgi(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        return (
            int(status[:3]),
            [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
            content,
        )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        socket = Websocket(self, scope, receive, send)
        handler = self.websocket_handler(scope["path"])
        if handler is None:
            await socket.reject()
            return
        try:
            await handler(socket)
        except WebsocketClosed:
            pass
        except Exception:
            sys.excepthook(*sys.exc_info())
            await socket.close(CLOSE_INTERNAL_ERROR, "Internal error")
        else:
            await socket.close()


def _has_body(scope: Scope) -> bool:
    """Whether the request announces a body (a length, or a transfer coding)."""
    return any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"])


def _no_write(data: bytes) -> None:
    raise NotImplementedError("write() of a WSGI start_response is not supported")


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ of an ASGI HTTP scope, as granian's WSGI interface builds it."""
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client") or ("127.0.0.1", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": bytes(scope.get("query_string") or b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = bytes(raw_name).decode("latin-1").upper().replace("-", "_")
        value = bytes(raw_value).decode("latin-1")
        if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
            environ[name] = value
            continue
        key = f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ
