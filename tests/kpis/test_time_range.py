"""Times and dates outside what Gamify keeps (events from 2000-01-01 on, dates up to the
year 2999) are a 400 or a rejected event naming the field — never a 500, never stored."""

from __future__ import annotations

import pytest

from kpis.models import RawEvent
from tests.helpers import problem

pytestmark = pytest.mark.django_db


def event(occurred_at: str, event_id: str = "e1") -> dict:
    return {
        "event_id": event_id, "type": "interaction", "occurred_at": occurred_at,
        "agent": "a1", "answered": True, "talk_seconds": 60,
    }  # fmt: skip


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00+14:00",  # was a 500 in body_hash
        "0001-01-01T13:00:00Z",  # was accepted, then wedged the tenant's apply task
        "0001-01-01T00:00:00-14:00",
        "1999-12-31T23:59:59Z",
        "1999-12-31T23:59:59.999999+00:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59Z",
    ],
)
def test_events_outside_the_accepted_range_are_rejected_alone(api, occurred_at):
    good = event("2026-11-20T09:15:00+08:00", "good")
    response = api.post("/api/v1/events", {"events": [event(occurred_at), good]}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 1
    [rejected] = body["rejected"]
    assert rejected["index"] == 0
    assert list(rejected["errors"]) == ["occurred_at"]
    assert list(RawEvent.objects.values_list("event_id", flat=True)) == ["good"]


def test_the_first_instant_of_2000_is_accepted(api):
    response = api.post(
        "/api/v1/events", {"events": [event("2000-01-01T00:00:00Z")]}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["accepted"] == 1, response.json()
    # In the tenant's zone (Shanghai) that is 08:00 on the first day of 2000.
    kpis = api.get("/api/v1/agents/a1/kpis", {"period": "day", "date": "2000-01-01"}).json()
    assert kpis["kpis"]["contacts_handled"]["value"] == 1


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "3000-01-01"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/agents/a1/kpis",
        "/api/v1/teams/t1/kpis",
        "/api/v1/agents/a1/kpis/aht/series",
        "/api/v1/teams/t1/kpis/aht/series",
        "/api/v1/leaderboards",
        "/api/v1/agents/a1/profile",
    ],
)
@pytest.mark.parametrize("period", ["day", "week", "month", "quarter", "year"])
def test_dates_out_of_range_are_a_400_naming_date(api, agent, path, day, period):
    response = api.get(path, {"period": period, "date": day})
    if path.endswith("/profile"):  # the profile takes no date: it ignores one
        assert response.status_code == 200
        return
    body = problem(response, 400)
    assert list(body["errors"]) == ["date"], body


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01T00:00:00+14:00", "2026-01-01T00:00:00+08:00", "start"),
        ("2026-01-01T00:00:00+08:00", "9999-12-31T23:00:00-14:00", "end"),
    ],
)
def test_custom_windows_out_of_range_are_a_400(api, agent, start, end, field):
    response = api.get("/api/v1/agents/a1/kpis", {"start": start, "end": end})
    body = problem(response, 400)
    assert list(body["errors"]) == [field], body


def test_the_last_supported_date_answers(api, agent):
    for period in ("day", "week", "month", "quarter", "year"):
        response = api.get("/api/v1/agents/a1/kpis", {"period": period, "date": "2999-12-31"})
        assert response.status_code == 200, (period, response.content)
        response = api.get("/api/v1/leaderboards", {"period": period, "date": "2000-01-01"})
        assert response.status_code == 200, (period, response.content)


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "field"),
    [
        ("0001-01-01T00:00:00+08:00", "0001-01-02T00:00:00+08:00", "starts_at"),
        ("0001-01-01T00:00:00Z", "2026-12-02T00:00:00Z", "starts_at"),
        ("9999-12-30T00:00:00+08:00", "9999-12-31T00:00:00+08:00", "starts_at"),
        ("2026-12-01T00:00:00+08:00", "9999-12-31T23:00:00-14:00", "ends_at"),
    ],
)
def test_contest_windows_out_of_range_are_a_400(api, starts_at, ends_at, field):
    response = api.post(
        "/api/v1/contests",
        {"name": "Far", "kind": "ranked", "entity": "agent", "metric": "points",
         "starts_at": starts_at, "ends_at": ends_at},
        format="json",
    )  # fmt: skip
    body = problem(response, 400)
    assert field in body["errors"], body
