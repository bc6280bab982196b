"""Request bodies sent with ``Transfer-Encoding: chunked`` (issue #19): read whole through
the real server, bounded by the body limit, and never read as an empty body; and a bulk
delete that names no run refused there too.

The server is ``manage.py orion_start`` on the test database (SQLite or PostgreSQL, as
the suite runs), so the bodies go through granian as a client sends them; the framings
granian never hands the application are in ``tests/core/test_request_body.py``."""

from __future__ import annotations

import http.client
import json
import os
import socket
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.db import connection

from flows_app.models import Flow
from runs_app.models import FlowRun
from tests.helpers import api_healthy, database_url, free_port, kill_process_group, orion_start

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The server's body limit: small, so going past it costs little.
LIMIT = 64 * 1024
HEADERS = {"Content-Type": "application/json", "X-PREFECT-API-VERSION": "0.8.4"}


@pytest.fixture(scope="module")
def port(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """``orion_start`` (API only) serving the test database on a free port."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        DATABASE_URL=database_url(connection.settings_dict),
        ORION_DATA_DIR=str(tmp_path_factory.mktemp("orion-data")),
        ORION_MAX_REQUEST_BODY_BYTES=str(LIMIT),
    )
    chosen = free_port()
    process = orion_start(env, "--no-services", "--port", str(chosen), "--workers", "1", "--threads", "2")
    try:
        assert api_healthy(chosen), "orion_start did not answer /api/health"
        yield chosen
    finally:
        kill_process_group(process)


def chunked(port: int, path: str, body: bytes | Iterable[bytes]) -> tuple[int, Any]:
    """POST ``body`` in chunks with ``http.client``, as a client streaming it does:
    ``(status, parsed JSON)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        chunks = pieces(body, 7) if isinstance(body, bytes) else body
        conn.request("POST", f"/api{path}", body=iter(chunks), headers=HEADERS, encode_chunked=True)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def pieces(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def raw(port: int, request: bytes, *, cut_off: bool = False) -> bytes:
    """Send ``request`` bytes as they are (then stop sending if ``cut_off``) and read
    until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        if cut_off:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def encode_chunks(body: bytes) -> bytes:
    """``body`` in the chunked framing, five bytes a chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in pieces(body, 5)) + b"0\r\n\r\n"


def request_head(path: str, *headers: str) -> bytes:
    lines = [f"POST /api{path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def make_runs(port: int, count: int) -> list[str]:
    status, flow = chunked(port, "/flows/", b'{"name": "chunked-flow"}')
    assert status == 201, flow
    ids = []
    for _ in range(count):
        status, run = chunked(port, "/flow_runs/", json.dumps({"flow_id": flow["id"]}).encode())
        assert status == 201, run
        ids.append(run["id"])
    return ids


def test_a_chunked_create_is_read_whole(port: int) -> None:
    status, flow = chunked(port, "/flows/", b'{"name": "streamed", "tags": ["a", "b"]}')
    assert status == 201
    assert (flow["name"], flow["tags"]) == ("streamed", ["a", "b"])
    assert Flow.objects.get(pk=flow["id"]).tags == ["a", "b"]


def test_a_chunked_filter_answers_the_filtered_page(port: int) -> None:
    ids = make_runs(port, 3)
    status, page = chunked(port, "/flow_runs/filter", json.dumps({"flow_runs": {"id": {"any_": ids[:1]}}}).encode())
    assert status == 200
    assert [run["id"] for run in page] == ids[:1]
    assert chunked(port, "/flow_runs/count", json.dumps({"flow_runs": {"id": {"any_": ids[1:]}}}).encode()) == (200, 2)


def test_a_chunked_bulk_delete_deletes_only_the_named_run(port: int) -> None:
    ids = make_runs(port, 3)
    body = json.dumps({"flow_runs": {"id": {"any_": [ids[0]]}}}).encode()
    assert chunked(port, "/flow_runs/bulk_delete", body) == (200, {"deleted": 1})
    assert set(FlowRun.objects.values_list("id", flat=True)) == {uuid.UUID(pk) for pk in ids[1:]}


def test_a_chunked_body_over_the_limit_is_a_413_and_writes_nothing(port: int) -> None:
    body = b'{"name": "' + b"x" * LIMIT + b'"}'
    status, answer = chunked(port, "/flows/", pieces(body, 4096))
    assert (status, answer) == (413, {"detail": f"Request body too large: the limit is {LIMIT} bytes."})
    assert not Flow.objects.exists()
    # At the limit the body is read whole.
    name = "x" * (LIMIT - len('{"name": ""}'))
    status, flow = chunked(port, "/flows/", pieces(json.dumps({"name": name}).encode(), 4096))
    assert status == 201 and flow["name"] == name


def test_a_bulk_delete_without_a_filter_is_refused_by_the_server(port: int) -> None:
    """Issue #19 item 3 through the real server: no body, and a chunked body naming no run."""
    ids = make_runs(port, 3)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/api/flow_runs/bulk_delete", body=b"", headers=HEADERS)
        response = conn.getresponse()
        assert response.status == 422
        assert json.loads(response.read())["detail"].startswith("No filter given: this would act on every flow run.")
    finally:
        conn.close()
    assert chunked(port, "/flow_runs/bulk_delete", b"{}")[0] == 422
    assert FlowRun.objects.count() == len(ids)
    assert chunked(port, "/flow_runs/bulk_delete", b'{"all": true}') == (200, {"deleted": 3})


EMPTY_OR_BROKEN = b"The chunked request body was empty or malformed."


@pytest.mark.parametrize(
    ("chunks", "cut_off", "status", "detail"),
    [
        pytest.param(b"0\r\n\r\n", False, b"400", EMPTY_OR_BROKEN, id="empty"),
        pytest.param(b"zz\r\n{}\r\n0\r\n\r\n", False, b"400", EMPTY_OR_BROKEN, id="malformed-size"),
        pytest.param(b"", True, b"400", EMPTY_OR_BROKEN, id="cut-off-before-the-body"),
        pytest.param(b'40\r\n{"flow_runs": {"id"', True, b"422", b"value_error.jsondecode", id="cut-off-inside"),
    ],
)
def test_an_empty_or_broken_chunked_body_is_refused_never_read_as_empty(
    port: int, chunks: bytes, cut_off: bool, status: bytes, detail: bytes
) -> None:
    """granian gives the application no sign of a broken chunked body: what came before
    the break reads as the whole body. Nothing at all is refused; a document cut short
    does not parse."""
    ids = make_runs(port, 3)
    head = request_head("/flow_runs/bulk_delete", "Transfer-Encoding: chunked", "Connection: close")
    answer = raw(port, head + chunks, cut_off=cut_off)
    assert answer.startswith(b"HTTP/1.1 " + status), answer
    assert detail in answer
    assert FlowRun.objects.count() == len(ids)


def test_transfer_encoding_beside_content_length_is_read_one_way_only(port: int) -> None:
    """The request-smuggling shape: granian frames the body by its chunks, ignores the
    length, and closes the connection, so bytes after the chunks never become a request."""
    smuggled = json.dumps({"name": "smuggled"}).encode()
    second = request_head("/flows/", f"Content-Length: {len(smuggled)}") + smuggled
    first_body = encode_chunks(b'{"name": "outer"}')
    first = request_head("/flows/", "Transfer-Encoding: chunked", f"Content-Length: {len(first_body) + len(second)}")
    answer = raw(port, first + first_body + second)
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert answer.startswith(b"HTTP/1.1 201")
    assert list(Flow.objects.values_list("name", flat=True)) == ["outer"]


def test_a_transfer_coding_other_than_chunked_is_a_501(port: int) -> None:
    head = request_head("/flows/", "Transfer-Encoding: gzip, chunked", "Connection: close")
    answer = raw(port, head + encode_chunks(b'{"name": "zipped"}'))
    assert answer.startswith(b"HTTP/1.1 501")
    assert b"Transfer-Encoding 'gzip, chunked' is not supported" in answer
    assert not Flow.objects.exists()


def test_a_kept_alive_connection_goes_on_after_a_chunked_body(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for name in ("first", "second"):
            pieces = [b'{"name": ', f'"{name}"}}'.encode()]
            conn.request("POST", "/api/flows/", body=iter(pieces), headers=HEADERS, encode_chunked=True)
            response = conn.getresponse()
            assert response.status == 201 and json.loads(response.read())["name"] == name
    finally:
        conn.close()
    assert sorted(Flow.objects.values_list("name", flat=True)) == ["first", "second"]
