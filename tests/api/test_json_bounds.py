"""Every JSON value the server accepts is one it can answer with (issue #19, items 1, 4,
7 and 9): free-form values are bounded in depth at the door, a value stored before the
bound never fails a listing, integers past 64 bits stay exact, and a syntax error says
where it is. Runs on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.test import Client

from orion_project.json_values import MAX_JSON_DEPTH, TOO_DEEP_MARKER, json_depth
from runs_app.models import FlowRun
from tests.compat.run import Server
from tests.helpers import ApiClient, make_flow_run

BIG = 10**40
BIG_TEXT = b"10000000000000000000000000000000000000000"


def nested(levels: int, leaf: Any = 1) -> Any:
    """``leaf`` inside ``levels`` objects: ``{"a": {"a": ... leaf}}``."""
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def nested_text(levels: int, leaf: str) -> str:
    """:func:`nested` as JSON text, for depths Python's encoder refuses."""
    return '{"a": ' * levels + leaf + "}" * levels


def _flow_id(api: ApiClient) -> str:
    return str(api.post("/flows/", {"name": "json-bounds"}).json()["id"])


def _depth_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["exception_message"] == "Invalid request received."
    assert body["request_body"] is None
    [error] = body["exception_detail"]
    assert error["type"] == "value_error.json.max_depth"
    assert error["msg"] == f"ensure this value is nested at most {MAX_JSON_DEPTH} levels deep"
    assert error["ctx"] == {"limit_value": MAX_JSON_DEPTH}
    assert len(error["loc"]) == MAX_JSON_DEPTH + 1  # "body", then the path to the first level too deep
    return error  # type: ignore[no-any-return]


# ------------------------------------------------------------------ depth at the door


@pytest.mark.django_db
def test_a_run_with_parameters_nested_300_levels_is_a_422_and_nothing_is_stored(api: ApiClient) -> None:
    flow_id = _flow_id(api)
    for _retry in range(3):
        response = api.post("/flow_runs/", {"flow_id": flow_id, "parameters": {"p": nested(300)}})
        assert _depth_error(response)["loc"][:4] == ["body", "parameters", "p", "a"]
    assert api.post("/flow_runs/count", {}).json() == 0
    assert api.post("/flow_runs/filter", {}).status_code == 200


@pytest.mark.django_db
def test_parameters_at_the_bound_are_stored_and_answered_everywhere(api: ApiClient) -> None:
    flow_id = _flow_id(api)
    # The body is one level, "parameters" a second: the deepest parameters accepted.
    parameters = nested(MAX_JSON_DEPTH - 2, leaf=[])
    created = api.post("/flow_runs/", {"flow_id": flow_id, "parameters": parameters})
    assert created.status_code == 201, created.content
    run_id = created.json()["id"]
    assert api.get(f"/flow_runs/{run_id}").json()["parameters"] == parameters
    assert api.post("/flow_runs/filter", {}).json()[0]["parameters"] == parameters
    one_more = api.post("/flow_runs/", {"flow_id": flow_id, "parameters": {"p": parameters}})
    assert _depth_error(one_more)["loc"][:3] == ["body", "parameters", "p"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/flow_runs/", {"context": nested(200)}, "context"),
        ("/flow_runs/", {"empirical_policy": nested(200)}, "empirical_policy"),
        ("/flow_runs/", {"job_variables": nested(200)}, "job_variables"),
        ("/flow_runs/", {"state": {"type": "PENDING", "data": nested(200)}}, "state"),
        ("/artifacts/", {"key": "a", "data": nested(200)}, "data"),
        ("/variables/", {"name": "v", "value": nested(200)}, "value"),
        ("/flows/", {"name": "f", "tags": [nested(200)]}, "tags"),
        ("/flows/filter", {"flows": nested(200)}, "flows"),
    ],
)
def test_every_free_form_field_is_bounded_and_the_error_names_it(
    api: ApiClient, path: str, body: dict[str, Any], field: str
) -> None:
    if path == "/flow_runs/":
        body = {"flow_id": _flow_id(api), **body}
    assert _depth_error(api.post(path, body))["loc"][1] == field


@pytest.mark.django_db
def test_a_body_deeper_than_the_bound_is_refused_even_in_a_list(api: ApiClient) -> None:
    log = {"name": "x", "level": 20, "message": "m", "timestamp": "2024-01-01T00:00:00Z"}
    response = api.post("/logs/", [log, {**log, "extra": nested(300)}])
    assert _depth_error(response)["loc"][:3] == ["body", 1, "extra"]


@pytest.mark.django_db
def test_a_422_echoing_a_body_at_the_bound_is_answered(api: ApiClient) -> None:
    parameters = nested(MAX_JSON_DEPTH - 2)
    response = api.post("/flow_runs/", {"flow_id": "not-a-uuid", "parameters": parameters})
    assert response.status_code == 422
    assert response.json()["request_body"]["parameters"] == parameters


@pytest.mark.django_db
def test_a_body_nested_1000_levels_holding_a_nul_is_a_422_naming_the_field(api: ApiClient) -> None:
    flow_id = _flow_id(api)
    parameters = nested_text(1000, '"a\\u0000b"')
    raw = f'{{"flow_id": "{flow_id}", "parameters": {parameters}}}'
    response = api.post("/flow_runs/", raw=raw)
    assert _depth_error(response)["loc"][:2] == ["body", "parameters"]
    assert api.post("/flow_runs/count", {}).json() == 0


@pytest.mark.django_db
def test_a_nul_deep_inside_the_bound_is_still_found(api: ApiClient) -> None:
    flow_id = _flow_id(api)
    response = api.post("/flow_runs/", {"flow_id": flow_id, "parameters": nested(100, leaf="a\u0000b")})
    assert response.status_code == 422
    [error] = response.json()["exception_detail"]
    assert error["type"] == "value_error.null_characters"
    assert error["loc"] == ["body", "parameters", *["a"] * 100]


# ------------------------------------------------------------------ big integers


@pytest.mark.django_db
def test_integers_past_64_bits_in_parameters_stay_exact(api: ApiClient) -> None:
    flow_id = _flow_id(api)
    parameters = {"big": BIG, "negative": -BIG, "u64": 2**64 - 1, "past_u64": 2**64, "float": 1.5, "deep": [[BIG]]}
    created = api.post("/flow_runs/", {"flow_id": flow_id, "parameters": parameters})
    assert created.status_code == 201, created.content
    assert b'"big":' + BIG_TEXT + b"," in created.content
    run_id = created.json()["id"]
    for response in (api.get(f"/flow_runs/{run_id}"), api.post("/flow_runs/filter", {})):
        assert response.status_code == 200
        assert b'"big":' + BIG_TEXT + b"," in response.content
        assert b'"negative":-' + BIG_TEXT + b"," in response.content
        answered = response.json()
        run = answered[0] if isinstance(answered, list) else answered
        assert run["parameters"] == parameters
    assert FlowRun.objects.get(pk=run_id).parameters == parameters


@pytest.mark.django_db
def test_a_big_integer_in_a_typed_field_is_still_bounded(api: ApiClient) -> None:
    response = api.post("/flows/filter", {"limit": BIG})
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["type"] == "value_error.number.not_le"


# ------------------------------------------------------------------ syntax errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "msg", "pos", "lineno", "colno"),
    [
        ('{"name": }', "Expecting value", 9, 1, 10),
        ("{bad", "Expecting property name enclosed in double quotes", 1, 1, 2),
        ('{\n  "name": "x",\n}', "Expecting property name enclosed in double quotes", 17, 3, 1),
        ('{"name": "x"', "Expecting ',' delimiter", 12, 1, 13),
        ('{"name": "x"} tail', "Extra data", 14, 1, 15),
    ],
)
def test_a_json_syntax_error_says_where_as_the_reference_does(
    api: ApiClient, raw: str, msg: str, pos: int, lineno: int, colno: int
) -> None:
    response = api.post("/flows/", raw=raw)
    assert response.status_code == 422
    assert response.json() == {
        "exception_message": "Invalid request received.",
        "exception_detail": [
            {
                "loc": ["body", pos],
                "msg": f"{msg}: line {lineno} column {colno} (char {pos})",
                "type": "value_error.jsondecode",
                "ctx": {"msg": msg, "doc": raw, "pos": pos, "lineno": lineno, "colno": colno},
            }
        ],
        "request_body": raw,
    }


@pytest.mark.django_db
def test_a_body_python_reads_but_orjson_refuses_still_says_where(api: ApiClient) -> None:
    response = api.post("/flows/", raw='{"name": NaN}')
    assert response.status_code == 422
    [error] = response.json()["exception_detail"]
    assert error["type"] == "value_error.jsondecode"
    assert "line 1 column" in error["msg"]


# ------------------------------------------------------------------ values stored before the bound


def _poison_run(api: ApiClient, levels: int = 300) -> str:
    run_id = str(make_flow_run(api)["id"])
    FlowRun.objects.filter(pk=run_id).update(parameters={"p": nested(levels)})
    return run_id


def _cut_depth(parameters: Any) -> int:
    """How deep ``parameters`` nests down to the marker that stands for the cut part."""
    depth, value = 0, parameters
    while isinstance(value, dict):
        depth, value = depth + 1, next(iter(value.values()))
    assert value == TOO_DEEP_MARKER
    return depth


@pytest.mark.django_db
# 300 levels is the repro; older versions stored up to about 880 through the API.
@pytest.mark.parametrize("levels", [300, 800])
def test_a_value_stored_too_deep_is_answered_cut_and_never_fails_a_listing(
    api: ApiClient, admin_client: Client, levels: int
) -> None:
    healthy = make_flow_run(api)
    poison = _poison_run(api, levels)
    single = api.get(f"/flow_runs/{poison}")
    assert single.status_code == 200
    assert 150 < _cut_depth(single.json()["parameters"]) < 255
    listing = api.post("/flow_runs/filter", {})
    assert listing.status_code == 200
    assert {run["id"] for run in listing.json()} == {healthy["id"], poison}
    history = {"history_start": "2000-01-01T00:00:00Z", "history_end": "2100-01-01T00:00:00Z"}
    assert api.post("/ui/flow_runs/history", {**history, "limit": 10}).status_code == 200
    assert admin_client.get("/admin/runs_app/flowrun/").status_code == 200
    assert admin_client.get(f"/admin/runs_app/flowrun/{poison}/change/").status_code == 200


@pytest.mark.django_db
def test_orion_check_json_finds_and_cuts_values_stored_too_deep(api: ApiClient) -> None:
    healthy = make_flow_run(api, parameters={"ok": nested(MAX_JSON_DEPTH - 3)})
    poison = _poison_run(api)
    out = StringIO()
    call_command("orion_check_json", stdout=out)
    assert out.getvalue().splitlines() == [
        f"runs_app.FlowRun {poison} parameters: nested 301 levels",
        f"1 JSON value(s) nested deeper than {MAX_JSON_DEPTH} levels found.",
    ]
    assert json_depth(FlowRun.objects.get(pk=poison).parameters) == 301  # listing changes nothing

    out = StringIO()
    call_command("orion_check_json", "--repair", stdout=out)
    assert out.getvalue().splitlines()[-1] == f"1 JSON value(s) nested deeper than {MAX_JSON_DEPTH} levels cut."
    repaired = FlowRun.objects.get(pk=poison).parameters
    assert json_depth(repaired) == MAX_JSON_DEPTH
    assert _cut_depth(repaired) == MAX_JSON_DEPTH
    assert FlowRun.objects.get(pk=healthy["id"]).parameters == {"ok": nested(MAX_JSON_DEPTH - 3)}

    out = StringIO()
    call_command("orion_check_json", stdout=out)
    assert out.getvalue().splitlines() == [f"0 JSON value(s) nested deeper than {MAX_JSON_DEPTH} levels found."]


# ------------------------------------------------------------------ through orion_start


def _call(api_url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{api_url}{path}", data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def served_database_url() -> Iterator[str | None]:
    """``None`` (a scratch SQLite file) or, when the suite runs on PostgreSQL, a scratch
    database on the same server, dropped afterwards."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield None
        return
    name = f"orion_json_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.slow
def test_deep_bodies_and_big_integers_through_orion_start(served_database_url: str | None) -> None:
    with Server(served_database_url) as server:
        api = server.api_url
        status, flow = _call(api, "POST", "/flows/", b'{"name": "served"}')
        assert status in (200, 201), flow
        flow_id = json.loads(flow)["id"]

        deep = json.dumps({"flow_id": flow_id, "parameters": nested(300)}).encode()
        status, answer = _call(api, "POST", "/flow_runs/", deep)
        assert status == 422, answer
        assert json.loads(answer)["exception_detail"][0]["loc"][:2] == ["body", "parameters"]
        assert _call(api, "POST", "/flow_runs/count", b"{}") == (200, b"0")

        big = b'{"flow_id": "%s", "parameters": {"big": %s}}' % (flow_id.encode(), BIG_TEXT)
        status, created = _call(api, "POST", "/flow_runs/", big)
        assert status == 201, created
        run_id = json.loads(created)["id"]
        for method, path, body in (("GET", f"/flow_runs/{run_id}", None), ("POST", "/flow_runs/filter", b"{}")):
            status, answer = _call(api, method, path, body)
            assert status == 200, answer
            assert b'"parameters":{"big":' + BIG_TEXT + b"}" in answer

        status, answer = _call(api, "POST", "/flows/", b'{"name": }')
        assert status == 422
        assert json.loads(answer)["exception_detail"][0]["msg"] == "Expecting value: line 1 column 10 (char 9)"
