"""The events routes through HTTP: what the reference comparison cannot pin (this
server's own limit, page tokens, the default window, workspaces, roles, queries)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from access_app.models import Role
from access_app.roles import required_role
from events_app.models import Event, EventResource
from events_app.schema import MAX_EVENT_NAME_LENGTH
from orion_project.models import Workspace
from tests.helpers import ApiClient

NOW = dt.datetime.now(dt.UTC)


def event(
    name: str = "acme.thing.done",
    resource: str = "acme.widget.1",
    ago: dt.timedelta = dt.timedelta(minutes=1),
    **more: Any,
) -> dict[str, Any]:
    occurred = (NOW - ago).isoformat()
    return {
        "occurred": occurred,
        "event": name,
        "resource": {"prefect.resource.id": resource},
        "id": str(uuid.uuid4()),
        **more,
    }


def record(api: ApiClient, *events: dict[str, Any], prefix: str = "") -> None:
    response = api.post(f"{prefix}/events", list(events))
    assert response.status_code == 204, response.content


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["events"]]


def test_an_event_is_answered_in_the_received_shape(api: ApiClient) -> None:
    follows = str(uuid.uuid4())
    sent = event(
        occurred="2026-12-01T10:00:00.5+02:00",
        related=[{"prefect.resource.id": "acme.flow.1", "prefect.resource.role": "flow"}],
        payload={"nested": {"a": [1, 2.5, None]}},
        follows=follows,
    )
    record(api, sent)
    before = dt.datetime.now(dt.UTC)
    [answer] = api.post("/events/filter", {"filter": {"occurred": {"since": "2026-12-01T00:00:00Z"}}}).json()["events"]
    received = dt.datetime.fromisoformat(answer.pop("received"))
    assert received <= before and received.utcoffset() == dt.timedelta(0)
    assert answer == {
        "occurred": "2026-12-01T08:00:00.500000+00:00",
        "event": "acme.thing.done",
        "resource": {"prefect.resource.id": "acme.widget.1"},
        "related": [{"prefect.resource.id": "acme.flow.1", "prefect.resource.role": "flow"}],
        "payload": {"nested": {"a": [1, 2.5, None]}},
        "id": sent["id"],
        "follows": follows,
    }


def test_a_name_longer_than_the_column_is_refused_and_nothing_of_the_batch_is_written(api: ApiClient) -> None:
    response = api.post("/events", [event(), event(name="x" * (MAX_EVENT_NAME_LENGTH + 1))])
    assert response.status_code == 422
    assert response.json()["exception_detail"] == [
        {
            "loc": ["body", 1, "event"],
            "msg": f"ensure this value has at most {MAX_EVENT_NAME_LENGTH} characters",
            "type": "value_error.any_str.max_length",
            "ctx": {"limit_value": MAX_EVENT_NAME_LENGTH},
        }
    ]
    assert not Event.objects.exists() and not EventResource.objects.exists()


def test_a_redelivered_event_is_stored_once(api: ApiClient) -> None:
    sent = event()
    record(api, sent, sent)
    record(api, sent)
    assert api.post("/events/filter", {}).json()["total"] == 1


def test_the_default_window_is_180_days_back_from_today_until_now(api: ApiClient) -> None:
    old, recent, future = event(ago=dt.timedelta(days=182)), event(), event(ago=-dt.timedelta(hours=1))
    record(api, old, recent, future)
    assert ids(api.post("/events/filter", {}).json()) == [recent["id"]]
    assert ids(api.post("/events/filter", {"filter": None}).json()) == [recent["id"]]


def test_pages_follow_on_where_the_last_one_ended_even_as_new_events_arrive(api: ApiClient) -> None:
    sent = [event(resource=f"acme.widget.{n}", ago=dt.timedelta(minutes=10 - n)) for n in range(5)]
    record(api, *sent)
    first = api.post("/events/filter", {"limit": 2}).json()
    assert (ids(first), first["total"]) == ([sent[4]["id"], sent[3]["id"]], 5)
    assert first["next_page"].startswith("http://testserver/api/events/filter/next?page-token=")
    record(api, event(ago=dt.timedelta(seconds=1)))  # newer than every page: not in this walk
    second = api.get(first["next_page"].removeprefix("http://testserver/api")).json()
    assert (ids(second), second["total"]) == ([sent[2]["id"], sent[1]["id"]], 5)
    third = api.get(second["next_page"].removeprefix("http://testserver/api")).json()
    assert (ids(third), third["next_page"]) == ([sent[0]["id"]], None)


def test_distinct_resources_page_too(api: ApiClient) -> None:
    sent = [event(resource=f"acme.widget.{n % 3}", ago=dt.timedelta(minutes=10 - n)) for n in range(6)]
    record(api, *sent)
    first = api.post("/events/filter", {"filter": {"resource": {"distinct": True}}, "limit": 2}).json()
    assert (ids(first), first["total"]) == ([sent[5]["id"], sent[4]["id"]], 3)
    second = api.get(first["next_page"].removeprefix("http://testserver/api")).json()
    assert (ids(second), second["next_page"]) == ([sent[3]["id"]], None)


@pytest.mark.parametrize("token", ["", "bm9wZQ==", "garbage:with:colons"])
def test_a_token_that_was_not_given_out_is_forbidden(api: ApiClient, token: str) -> None:
    response = api.get(f"/events/filter/next?page-token={token}")
    assert (response.status_code, response.json()) == (403, {"detail": "Forbidden"})


def test_a_page_token_reads_only_the_workspace_it_was_given_in(api: ApiClient) -> None:
    Workspace.objects.create(slug="team-b", name="team-b")
    record(api, event(), event())
    record(api, event(), event(), prefix="/workspaces/team-b")
    page = api.post("/workspaces/team-b/events/filter", {"limit": 1}).json()
    assert page["next_page"].startswith("http://testserver/api/workspaces/team-b/events/filter/next?page-token=")
    token = page["next_page"].split("page-token=")[1]
    assert api.get(f"/workspaces/team-b/events/filter/next?page-token={token}").status_code == 200
    assert api.get(f"/events/filter/next?page-token={token}").status_code == 403
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert api.get(f"/workspaces/team-b/events/filter/next?page-token={tampered}").status_code == 403


def test_label_filters_negate_and_match_prefixes_on_the_resource_and_its_related_ones(api: ApiClient) -> None:
    flow = {"prefect.resource.id": "prefect.flow.1", "prefect.resource.role": "flow", "team": "data-eng"}
    tagged = event(resource="acme.a", related=[flow])
    tagged["resource"]["tier"] = "gold"
    plain = event(resource="acme.b")
    record(api, tagged, plain)

    def matching(filter_: dict[str, Any]) -> list[str]:
        return ids(api.post("/events/filter", {"filter": filter_}).json())

    assert matching({"resource": {"labels": {"tier": "!silver"}}}) == [tagged["id"]]  # must have the label
    assert matching({"resource": {"labels": {"tier": ["go*"]}}}) == [tagged["id"]]
    assert matching({"related": {"labels": {"team": "data-*"}}}) == [tagged["id"]]
    assert matching({"related": {"labels": {"team": "!data-*"}}}) == []
    assert matching({"any_resource": {"labels": {"team": "data-eng"}}}) == [tagged["id"]]
    assert set(matching({"any_resource": {"id_prefix": ["acme."]}})) == {tagged["id"], plain["id"]}
    assert matching({"related": {"id": ["prefect.flow.1"], "labels": {"team": "data-eng"}}}) == [tagged["id"]]
    assert matching({"related": {"id": ["prefect.flow.1"], "labels": {"team": "other"}}}) == []


def test_time_counts_run_to_the_end_of_the_current_unit_when_the_window_reaches_past_now(api: ApiClient) -> None:
    record(api, event(ago=dt.timedelta(0)))
    since = (NOW - dt.timedelta(hours=2)).isoformat()
    until = (NOW + dt.timedelta(days=3)).isoformat()
    body = {"filter": {"occurred": {"since": since, "until": until}}, "time_unit": "hour"}
    counts = api.post("/events/count-by/time", body).json()
    last_end = dt.datetime.fromisoformat(counts[-1]["end_time"])
    assert last_end == NOW.replace(minute=59, second=59, microsecond=999999) or last_end > NOW
    assert last_end < NOW + dt.timedelta(hours=2)
    assert sum(count["count"] for count in counts) == 1
    assert [count["value"] for count in counts] == [str(index) for index in range(len(counts))]


def test_the_filter_route_reads_a_count_and_a_page(api: ApiClient, django_assert_num_queries: Any) -> None:
    record(api, event(), event(related=[{"prefect.resource.id": "r", "prefect.resource.role": "x"}]))
    # The count of matching events, then the page.
    with django_assert_num_queries(2):
        assert api.post("/events/filter", {"filter": {"related": {"id": ["r"]}}}).json()["total"] == 1


def test_runners_record_events_and_viewers_read_them() -> None:
    assert required_role("POST", "/api/events") == Role.RUNNER
    assert required_role("POST", "/api/events/filter") == Role.VIEWER
    assert required_role("GET", "/api/events/filter/next") == Role.VIEWER
    assert required_role("POST", "/api/events/count-by/day") == Role.VIEWER


def test_a_related_filter_holds_of_one_and_the_same_related_resource(api: ApiClient) -> None:
    flow = {"prefect.resource.id": "prefect.flow.1", "prefect.resource.role": "flow", "team": "a"}
    other = {"prefect.resource.id": "prefect.flow.2", "prefect.resource.role": "flow", "team": "b"}
    sent = event(related=[flow, other])
    record(api, sent)

    def matching(related: dict[str, Any]) -> list[str]:
        return ids(api.post("/events/filter", {"filter": {"related": related}}).json())

    assert matching({"id": ["prefect.flow.1"], "labels": {"team": "a"}}) == [sent["id"]]
    assert matching({"id": ["prefect.flow.1"], "labels": {"team": "b"}}) == []
    assert matching({"role": ["flow"], "labels": {"team": "b"}}) == [sent["id"]]
    assert matching({"role": ["tag"], "labels": {"team": "b"}}) == []
