"""Global concurrency limits (2.20 ``/v2/concurrency_limits/``), against the 2.20 reference."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runs_app.models import GlobalConcurrencyLimit
from tests.helpers import ApiClient

LOCKED = {"detail": "Locked"}


def _create(api: ApiClient, **body: object) -> dict:
    response = api.post("/v2/concurrency_limits/", body)
    assert response.status_code == 201, response.json()
    return response.json()


def _increment(api: ApiClient, *names: str, slots: int = 1, mode: str | None = None) -> Any:
    body: dict[str, object] = {"names": list(names), "slots": slots}
    if mode is not None:
        body["mode"] = mode
    return api.post("/v2/concurrency_limits/increment", body)


def _age(name: str, seconds: float) -> None:
    """Pretend the limit's row was last written ``seconds`` ago (slots decay from then)."""
    GlobalConcurrencyLimit.objects.filter(name=name).update(
        updated=GlobalConcurrencyLimit.objects.get(name=name).updated - dt.timedelta(seconds=seconds)
    )


def test_create_answers_every_column_and_reads_answer_the_short_shape(api: ApiClient) -> None:
    created = _create(api, name="gcl1", limit=2)
    assert {key: created[key] for key in created if key not in ("id", "created", "updated")} == {
        "active": True,
        "name": "gcl1",
        "limit": 2,
        "active_slots": 0,
        "denied_slots": 0,
        "slot_decay_per_second": 0.0,
        "avg_slot_occupancy_seconds": 2.0,
    }
    read = api.get("/v2/concurrency_limits/gcl1").json()
    assert set(read) == {"id", "created", "updated", "active", "name", "limit", "active_slots", "slot_decay_per_second"}
    assert api.get(f"/v2/concurrency_limits/{created['id']}").json() == read


def test_create_validation_and_conflicts(api: ApiClient) -> None:
    _create(api, name="gcl1", limit=2)
    response = api.post("/v2/concurrency_limits/", {"name": "gcl1", "limit": 2})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Data integrity conflict.")
    errors = api.post("/v2/concurrency_limits/", {"name": "bad/name", "limit": 2}).json()["exception_detail"]
    assert errors[0]["type"] == "value_error.invalidname"
    errors = api.post("/v2/concurrency_limits/", {"name": "neg", "limit": -1}).json()["exception_detail"]
    assert errors == [
        {
            "loc": ["body", "limit"],
            "msg": "1 validation error for constrained-int\n  Input should be greater than or equal to 0 "
            "[type=greater_than_equal, input_value=-1, input_type=int]\n    For further information visit "
            "https://errors.pydantic.dev/2.12/v/greater_than_equal",
            "type": "value_error.validation",
        }
    ]
    errors = api.post("/v2/concurrency_limits/", {"limit": 1}).json()["exception_detail"]
    assert errors == [{"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}]


def test_missing_limits_are_404_by_id_or_name(api: ApiClient) -> None:
    for response in (
        api.get("/v2/concurrency_limits/nope"),
        api.get("/v2/concurrency_limits/00000000-0000-4000-8000-000000000000"),
        api.patch("/v2/concurrency_limits/nope", {"limit": 3}),
        api.delete("/v2/concurrency_limits/nope"),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "Concurrency Limit not found"}


def test_update_delete_and_list_by_name(api: ApiClient) -> None:
    _create(api, name="b", limit=2)
    _create(api, name="a", limit=1)
    assert api.patch("/v2/concurrency_limits/b", {"limit": 3}).status_code == 204
    assert api.get("/v2/concurrency_limits/b").json()["limit"] == 3
    assert api.patch("/v2/concurrency_limits/b", {"name": "a"}).status_code == 409
    assert api.patch("/v2/concurrency_limits/b", {"bogus": 1}).status_code == 422
    assert [limit["name"] for limit in api.post("/v2/concurrency_limits/filter", {}).json()] == ["a", "b"]
    assert [limit["name"] for limit in api.post("/v2/concurrency_limits/filter", {"offset": 1}).json()] == ["b"]
    assert api.delete("/v2/concurrency_limits/a").status_code == 204
    assert api.delete("/v2/concurrency_limits/a").status_code == 404


def test_increment_until_locked_then_decrement_frees_a_slot(api: ApiClient) -> None:
    created = _create(api, name="gcl1", limit=2)
    minimal = [{"id": created["id"], "name": "gcl1", "limit": 2}]
    assert _increment(api, "gcl1").json() == minimal
    assert _increment(api, "gcl1").json() == minimal
    refused = _increment(api, "gcl1")
    assert (refused.status_code, refused.json(), refused["Retry-After"]) == (423, LOCKED, "1.0")
    # The denied slot counts towards the next estimate: (1 + 1 denied) / limit 2 x 2.0 s.
    assert _increment(api, "gcl1")["Retry-After"] == "2.0"
    assert api.get("/v2/concurrency_limits/gcl1").json()["active_slots"] == 2

    released = api.post("/v2/concurrency_limits/decrement", {"names": ["gcl1"], "slots": 1, "occupancy_seconds": 3.0})
    assert released.json() == minimal
    stored = GlobalConcurrencyLimit.objects.get(name="gcl1")
    assert stored.active_slots == 1
    # Running average over 2 x limit samples: 2.0 + 3.0 / 4 - 2.0 / 4.
    assert stored.avg_slot_occupancy_seconds == pytest.approx(2.25)
    assert _increment(api, "gcl1").status_code == 200


def test_decrement_never_goes_below_zero(api: ApiClient) -> None:
    _create(api, name="gcl1", limit=2)
    _increment(api, "gcl1")
    assert api.post("/v2/concurrency_limits/decrement", {"names": ["gcl1"], "slots": 5}).status_code == 200
    assert api.get("/v2/concurrency_limits/gcl1").json()["active_slots"] == 0


def test_requests_that_can_never_succeed_are_422_details(api: ApiClient) -> None:
    _create(api, name="gcl1", limit=2)
    response = _increment(api, "gcl1", slots=3)
    assert (response.status_code, response.json()) == (422, {"detail": "Slots requested is greater than the limit"})
    response = _increment(api, "gcl1", mode="rate_limit")
    assert response.json() == {
        "detail": "Only concurrency limits with slot decay can be used for rate limiting. "
        "The following limits do not have a decay configured: 'gcl1'"
    }


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"names": [], "slots": 1},
            {
                "loc": ["body", "names"],
                "msg": "ensure this value has at least 1 items",
                "type": "value_error.list.min_items",
                "ctx": {"limit_value": 1},
            },
        ),
        (
            {"names": ["a"], "slots": 0},
            {
                "loc": ["body", "slots"],
                "msg": "ensure this value is greater than 0",
                "type": "value_error.number.not_gt",
                "ctx": {"limit_value": 0},
            },
        ),
        (
            {"names": ["a"], "slots": 1, "mode": "x"},
            {
                "loc": ["body", "mode"],
                "msg": "unexpected value; permitted: 'concurrency', 'rate_limit'",
                "type": "value_error.const",
            },
        ),
        ({"names": ["a"]}, {"loc": ["body", "slots"], "msg": "field required", "type": "value_error.missing"}),
    ],
)
def test_increment_body_validation(api: ApiClient, body: dict, error: dict) -> None:
    response = api.post("/v2/concurrency_limits/increment", body)
    assert response.status_code == 422
    assert response.json()["exception_detail"] == [error]


def test_unknown_names_become_inactive_limits_that_never_block(api: ApiClient) -> None:
    response = _increment(api, "newone")
    assert response.status_code == 200
    [limit] = response.json()
    assert (limit["name"], limit["limit"]) == ("newone", 1)
    assert _increment(api, "newone").status_code == 200
    read = api.get("/v2/concurrency_limits/newone").json()
    assert (read["active"], read["active_slots"]) == (False, 0)
    # Unknown top-level keys are ignored, as by the reference.
    assert (
        api.post("/v2/concurrency_limits/increment", {"names": ["newone"], "slots": 1, "bogus": 1}).status_code == 200
    )


def test_a_refused_increment_keeps_no_limit_it_created(api: ApiClient) -> None:
    _create(api, name="full", limit=1)
    _increment(api, "full")
    assert _increment(api, "full", "brand_new").status_code == 423
    assert api.get("/v2/concurrency_limits/brand_new").status_code == 404


def test_slots_decay_as_a_rate_limit(api: ApiClient) -> None:
    _create(api, name="rl", limit=2, slot_decay_per_second=0.5)
    assert _increment(api, "rl", slots=2, mode="rate_limit").status_code == 200
    refused = _increment(api, "rl", mode="rate_limit")
    assert (refused.status_code, refused["Retry-After"]) == (423, "2.0")  # 1 slot / 0.5 per second
    _age("rl", 2.5)  # floor(0.5 x 2.5) = 1 slot has drained
    assert _increment(api, "rl", mode="rate_limit").status_code == 200
    assert api.get("/v2/concurrency_limits/rl").json()["active_slots"] == 2


def test_limits_beyond_the_integer_column_or_not_finite_are_422_not_500(api: ApiClient) -> None:
    """Found by `make fuzz`: a limit of 5e61 reached the integer column and answered 500."""
    for body in (
        {"name": "huge", "limit": 5.095497331604959e61},
        {"name": "huge", "limit": 2**31},
        {"name": "huge", "limit": 1, "slot_decay_per_second": "inf"},
        {"name": "huge", "limit": 1, "slot_decay_per_second": "nan"},
    ):
        response = api.post("/v2/concurrency_limits/", body)
        assert response.status_code == 422, (body, response.content)
        assert response.json()["exception_detail"][0]["type"] == "value_error.validation"
    assert api.post("/v2/concurrency_limits/", {"name": "edge", "limit": 2**31 - 1}).status_code == 201
    assert api.post("/v2/concurrency_limits/filter", {}).json()[0]["limit"] == 2**31 - 1


@pytest.mark.parametrize("name", ["filter", "increment", "decrement"])
def test_a_limit_named_like_a_post_route_is_reachable_by_name(api: ApiClient, name: str) -> None:
    assert api.post("/v2/concurrency_limits/", {"name": name, "limit": 2}).status_code == 201
    assert api.get(f"/v2/concurrency_limits/{name}").json()["name"] == name
    assert api.patch(f"/v2/concurrency_limits/{name}", {"limit": 3}).status_code == 204
    assert api.get(f"/v2/concurrency_limits/{name}").json()["limit"] == 3
    assert api.delete(f"/v2/concurrency_limits/{name}").status_code == 204
    assert api.get(f"/v2/concurrency_limits/{name}").status_code == 404
