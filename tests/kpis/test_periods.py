"""Periods in the tenant's timezone: calendar periods, custom windows, errors, DST, odd offsets."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Tenant
from accounts.services import tenant_create
from kpis.periods import period_of
from tests.helpers import problem

SHANGHAI = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.django_db


def utc(*args: Any) -> datetime:
    return datetime(*args).replace(tzinfo=UTC)


def unsaved(timezone: str = "Asia/Shanghai", week_start: int = 0) -> Tenant:
    return Tenant(name="x", slug="x", timezone=timezone, week_start=week_start)


def post(client, events):
    response = client.post("/api/v1/events", {"events": events}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == len(events), response.json()


def answered(event_id, occurred_at, talk=60, agent="a1"):
    return {
        "event_id": event_id,
        "type": "interaction",
        "occurred_at": occurred_at,
        "agent": agent,
        "answered": True,
        "talk_seconds": talk,
    }


# --- calendar periods (pure) --------------------------------------------------------------------
# Shanghai is UTC+8 all year: local midnight is 16:00 UTC the day before. 2026-11-20 is a Friday.
@pytest.mark.parametrize(
    ("kind", "day", "week_start", "start", "end"),
    [
        ("day", date(2026, 11, 20), 0, utc(2026, 11, 19, 16), utc(2026, 11, 20, 16)),
        # Monday start: Mon 16 - Mon 23
        ("week", date(2026, 11, 20), 0, utc(2026, 11, 15, 16), utc(2026, 11, 22, 16)),
        # Sunday start (6): Sun 15 - Sun 22
        ("week", date(2026, 11, 20), 6, utc(2026, 11, 14, 16), utc(2026, 11, 21, 16)),
        # Saturday start (5): Sat 14 - Sat 21
        ("week", date(2026, 11, 20), 5, utc(2026, 11, 13, 16), utc(2026, 11, 20, 16)),
        # a date on the week start day opens its week: Sun 15 with Sunday start → Sun 15 - 22
        ("week", date(2026, 11, 15), 6, utc(2026, 11, 14, 16), utc(2026, 11, 21, 16)),
        # …and closes the previous one with Monday start: Mon 9 - Mon 16
        ("week", date(2026, 11, 15), 0, utc(2026, 11, 8, 16), utc(2026, 11, 15, 16)),
        # a week across a year end: Thu 2026-12-31 → Mon 28 Dec - Mon 4 Jan
        ("week", date(2026, 12, 31), 0, utc(2026, 12, 27, 16), utc(2027, 1, 3, 16)),
        ("month", date(2026, 11, 20), 0, utc(2026, 10, 31, 16), utc(2026, 11, 30, 16)),
        ("month", date(2026, 12, 31), 0, utc(2026, 11, 30, 16), utc(2026, 12, 31, 16)),
        ("month", date(2028, 2, 29), 0, utc(2028, 1, 31, 16), utc(2028, 2, 29, 16)),
        ("quarter", date(2026, 11, 20), 0, utc(2026, 9, 30, 16), utc(2026, 12, 31, 16)),
        ("quarter", date(2026, 2, 1), 0, utc(2025, 12, 31, 16), utc(2026, 3, 31, 16)),
        ("quarter", date(2026, 4, 1), 0, utc(2026, 3, 31, 16), utc(2026, 6, 30, 16)),
        ("year", date(2026, 11, 20), 0, utc(2025, 12, 31, 16), utc(2026, 12, 31, 16)),
    ],
)
def test_calendar_periods_in_the_tenant_timezone(kind, day, week_start, start, end):
    period = period_of(kind, day, unsaved(week_start=week_start))
    assert (period.type, period.start, period.end) == (kind, start, end)


def test_all_is_unbounded():
    period = period_of("all", date(2026, 11, 20), unsaved())
    assert (period.type, period.start, period.end) == ("all", None, None)
    assert period.contains(utc(1999, 1, 1))


def test_period_contains_start_but_not_end():
    period = period_of("day", date(2026, 11, 20), unsaved())
    assert period.contains(datetime(2026, 11, 20, 0, 0, tzinfo=SHANGHAI))
    assert period.contains(datetime(2026, 11, 20, 23, 59, 59, tzinfo=SHANGHAI))
    assert not period.contains(datetime(2026, 11, 21, 0, 0, tzinfo=SHANGHAI))
    assert not period.contains(datetime(2026, 11, 19, 23, 59, 59, tzinfo=SHANGHAI))


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25), (date(2026, 11, 2), 24)],
)
def test_dst_days_are_23_and_25_hours_long(day, hours):
    period = period_of("day", day, unsaved("America/New_York"))
    assert period.end - period.start == timedelta(hours=hours)


def test_dst_week_and_month_lengths():
    ny = unsaved("America/New_York")
    # Mon 2026-10-26 - Mon 2026-11-02 holds the 25-hour Sunday
    week = period_of("week", date(2026, 11, 1), ny)
    assert week.end - week.start == timedelta(days=7, hours=1)
    march = period_of("month", date(2026, 3, 15), ny)
    assert march.end - march.start == timedelta(days=31, hours=-1)


def test_kolkata_midnight_is_on_a_half_hour_of_utc():
    period = period_of("day", date(2026, 11, 20), unsaved("Asia/Kolkata"))
    assert (period.start, period.end) == (utc(2026, 11, 19, 18, 30), utc(2026, 11, 20, 18, 30))


# --- over HTTP ----------------------------------------------------------------------------------


def kpis(client, agent="a1", **params):
    return client.get(f"/api/v1/agents/{agent}/kpis", params)


def test_week_follows_the_tenant_week_start(api, tenant, agent):
    post(
        api,
        [
            answered("sat-early", "2026-11-14T23:59:00+08:00", talk=5),  # Saturday before
            answered("sun", "2026-11-15T00:00:00+08:00", talk=10),  # Sunday: first day
            answered("sat", "2026-11-21T23:59:59+08:00", talk=20),  # Saturday: last day
            answered("sun-next", "2026-11-22T00:00:00+08:00", talk=40),  # next Sunday
        ],
    )
    # Monday start (default): Mon 16 - Mon 23 holds "sat" and "sun-next"
    body = kpis(api, period="week", date="2026-11-20").json()
    assert body["period"]["start"] == "2026-11-16T00:00:00+08:00"
    assert body["kpis"]["aht"]["value"] == 30.0  # (20 + 40) / 2
    tenant.week_start = Tenant.Weekday.SUNDAY
    tenant.save()  # as the admin does: cached credentials see the change at once
    body = kpis(api, period="week", date="2026-11-20").json()
    assert body["period"] == {
        "type": "week",
        "start": "2026-11-15T00:00:00+08:00",
        "end": "2026-11-22T00:00:00+08:00",
    }
    assert body["kpis"]["aht"]["value"] == 15.0  # "sun" and "sat": (10 + 20) / 2


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("day", "2026-11-20T00:00:00+08:00", "2026-11-21T00:00:00+08:00"),
        ("week", "2026-11-16T00:00:00+08:00", "2026-11-23T00:00:00+08:00"),
        ("month", "2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00"),
        ("quarter", "2026-10-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
        ("year", "2026-01-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
        ("all", None, None),
    ],
)
def test_period_bounds_are_rendered_in_the_tenant_timezone(api, agent, period, start, end):
    response = kpis(api, period=period, date="2026-11-20")
    assert response.status_code == 200, response.content
    assert response.json()["period"] == {"type": period, "start": start, "end": end}


def test_default_period_is_today_in_the_tenant_timezone(api, agent):
    # 17:30 UTC on the 20th is already 01:30 on the 21st in Shanghai
    with time_machine.travel(utc(2026, 11, 20, 17, 30), tick=False):
        body = kpis(api).json()
        assert body["period"] == {
            "type": "day",
            "start": "2026-11-21T00:00:00+08:00",
            "end": "2026-11-22T00:00:00+08:00",
        }
        assert kpis(api, period="week").json()["period"]["start"] == "2026-11-16T00:00:00+08:00"


def test_custom_window_is_half_open(api, agent):
    post(
        api,
        [
            answered("before", "2026-11-20T08:59:59+08:00"),
            answered("first", "2026-11-20T09:00:00+08:00"),
            answered("last", "2026-11-20T11:59:59+08:00"),
            answered("after", "2026-11-20T12:00:00+08:00"),
        ],
    )
    response = kpis(api, start="2026-11-20T09:00:00+08:00", end="2026-11-20T04:00:00Z")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == {
        "type": "custom",
        "start": "2026-11-20T09:00:00+08:00",
        "end": "2026-11-20T12:00:00+08:00",
    }
    assert body["kpis"]["contacts_handled"]["value"] == 2  # "first" and "last"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-11-20T09:00:00", "end": "2026-11-20T12:00:00+08:00"}, "start"),
        ({"start": "2026-11-20T09:00:00+08:00", "end": "2026-11-20T12:00:00"}, "end"),
        ({"start": "yesterday", "end": "2026-11-20T12:00:00+08:00"}, "start"),
        ({"start": "2026-11-20T09:00:00+08:00", "end": "2026-11-20T25:00:00+08:00"}, "end"),
        # not on a whole local hour
        ({"start": "2026-11-20T09:30:00+08:00", "end": "2026-11-20T12:00:00+08:00"}, "start"),
        ({"start": "2026-11-20T09:00:00+08:00", "end": "2026-11-20T12:00:01+08:00"}, "end"),
        # 09:00 in Kolkata is 11:30 in Shanghai
        ({"start": "2026-11-20T09:00:00+05:30", "end": "2026-11-20T12:00:00+08:00"}, "start"),
        # end not after start
        ({"start": "2026-11-20T09:00:00+08:00", "end": "2026-11-20T09:00:00+08:00"}, "end"),
        ({"start": "2026-11-20T09:00:00+08:00", "end": "2026-11-20T08:00:00+08:00"}, "end"),
        # the same instant written in two offsets is still an empty window
        ({"start": "2026-11-20T09:00:00+08:00", "end": "2026-11-20T01:00:00Z"}, "end"),
        # half a window
        ({"start": "2026-11-20T09:00:00+08:00"}, "end"),
        ({"end": "2026-11-20T09:00:00+08:00"}, "start"),
        # a window and a period at once
        (
            {
                "period": "day",
                "start": "2026-11-20T09:00:00+08:00",
                "end": "2026-11-20T12:00:00+08:00",
            },
            "period",
        ),
        # more than 5 years
        ({"start": "2020-01-01T00:00:00+08:00", "end": "2026-01-01T00:00:00+08:00"}, "end"),
    ],
)
def test_bad_custom_window_is_a_400_naming_the_parameter(api, agent, params, field):
    body = problem(kpis(api, **params), 400)
    assert field in body["errors"], body


def test_unencoded_plus_in_an_offset_is_a_400_not_a_500(api, agent):
    # In a query string "+" means a space: the offset is lost and the time is rejected.
    response = api.get(
        "/api/v1/agents/a1/kpis?start=2026-11-20T09:00:00+08:00&end=2026-11-20T12:00:00%2B08:00"
    )
    assert "start" in problem(response, 400)["errors"]


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "tomorrow", "20-11-2026", "2026-11"])
def test_bad_date_is_a_400_naming_date(api, agent, value):
    body = problem(kpis(api, period="day", date=value), 400)
    assert list(body["errors"]) == ["date"]


@pytest.mark.parametrize("value", ["fortnight", "DAY", "custom", "days"])
def test_bad_period_is_a_400_naming_period(api, agent, value):
    body = problem(kpis(api, period=value, date="2026-11-20"), 400)
    assert list(body["errors"]) == ["period"]


def test_series_reports_the_same_period_errors(api, agent):
    url = "/api/v1/agents/a1/kpis/aht/series"
    assert "date" in problem(api.get(url, {"date": "nope"}), 400)["errors"]
    assert "period" in problem(api.get(url, {"period": "decade"}), 400)["errors"]
    bad_start = {"start": "2026-11-20T09:15:00+08:00", "end": "2026-11-20T12:00:00+08:00"}
    assert "start" in problem(api.get(url, bad_start), 400)["errors"]


# --- DST (America/New_York) ---------------------------------------------------------------------
@pytest.fixture
def ny(db, make_client):
    tenant = tenant_create(name="Gotham Support", timezone_name="America/New_York", slug="gotham")
    return make_client(tenant)


def series(client, code="aht", agent="a1", **params):
    response = client.get(f"/api/v1/agents/{agent}/kpis/{code}/series", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_fall_back_day_has_25_hours(ny):
    # 01:30 EDT and 01:30 EST: the same wall-clock time, one hour apart
    post(
        ny,
        [
            answered("first-0130", "2026-11-01T01:30:00-04:00", talk=100),
            answered("second-0130", "2026-11-01T01:30:00-05:00", talk=300),
            answered("late", "2026-11-01T23:30:00-05:00", talk=50),
        ],
    )
    body = ny.get("/api/v1/agents/a1/kpis", {"period": "day", "date": "2026-11-01"}).json()
    assert body["period"] == {
        "type": "day",
        "start": "2026-11-01T00:00:00-04:00",
        "end": "2026-11-02T00:00:00-05:00",
    }
    start = datetime.fromisoformat(body["period"]["start"])
    assert datetime.fromisoformat(body["period"]["end"]) - start == timedelta(hours=25)
    # (100 + 300 + 50) / 3 = 150
    assert body["kpis"]["aht"]["value"] == 150.0

    points = series(ny, period="day", date="2026-11-01", granularity="hour")["points"]
    assert len(points) == 25
    starts = [p["start"] for p in points]
    assert starts[:4] == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]
    assert starts[-1] == "2026-11-01T23:00:00-05:00"
    # consecutive points are one real hour apart
    instants = [datetime.fromisoformat(s) for s in starts]
    assert {b - a for a, b in itertools.pairwise(instants)} == {timedelta(hours=1)}
    # the two 01:xx hours are separate points
    assert (points[1]["value"], points[1]["volume"]) == (100.0, 1)
    assert (points[2]["value"], points[2]["volume"]) == (300.0, 1)
    assert (points[24]["value"], points[24]["volume"]) == (50.0, 1)
    others = [p for i, p in enumerate(points) if i not in (1, 2, 24)]
    assert all(p["value"] is None and p["volume"] == 0 for p in others)


def test_spring_forward_day_has_23_hours(ny):
    post(
        ny,
        [
            answered("before-gap", "2026-03-08T01:30:00-05:00", talk=40),
            answered("after-gap", "2026-03-08T03:30:00-04:00", talk=80),
        ],
    )
    body = ny.get("/api/v1/agents/a1/kpis", {"period": "day", "date": "2026-03-08"}).json()
    assert body["period"]["start"] == "2026-03-08T00:00:00-05:00"
    assert body["period"]["end"] == "2026-03-09T00:00:00-04:00"
    points = series(ny, period="day", date="2026-03-08", granularity="hour")["points"]
    assert len(points) == 23
    assert [p["start"] for p in points[:4]] == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",  # 02:00 does not exist that day
        "2026-03-08T04:00:00-04:00",
    ]
    assert (points[1]["value"], points[2]["value"]) == (40.0, 80.0)


def test_daily_series_across_fall_back(ny):
    post(
        ny,
        [
            answered("nov1-late", "2026-11-01T23:30:00-05:00", talk=10),  # 04:30 UTC on the 2nd
            answered("nov2-early", "2026-11-02T00:30:00-05:00", talk=30),
        ],
    )
    points = series(ny, period="month", date="2026-11-15", granularity="day")["points"]
    assert len(points) == 30
    assert points[0]["start"] == "2026-11-01T00:00:00-04:00"
    assert points[1]["start"] == "2026-11-02T00:00:00-05:00"
    assert points[29]["start"] == "2026-11-30T00:00:00-05:00"
    assert (points[0]["value"], points[1]["value"]) == (10.0, 30.0)


def test_custom_window_across_fall_back(ny):
    post(ny, [answered("x", "2026-11-01T01:59:00-05:00", talk=20)])
    params = {"start": "2026-11-01T00:00:00-04:00", "end": "2026-11-01T03:00:00-05:00"}
    body = series(ny, granularity="hour", **params)
    # 04:00Z - 08:00Z: four real hours
    assert [p["start"] for p in body["points"]] == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]
    assert [p["value"] for p in body["points"]] == [None, None, 20.0, None]
    # the second 01:00 is a whole local hour, so it is a valid bound
    repeated = {"start": "2026-11-01T01:00:00-05:00", "end": "2026-11-01T02:00:00-05:00"}
    assert ny.get("/api/v1/agents/a1/kpis", repeated).json()["kpis"]["aht"]["value"] == 20.0


# --- half-hour offset (Asia/Kolkata, UTC+05:30) -------------------------------------------------
@pytest.fixture
def pune(db, make_client):
    tenant = tenant_create(name="Pune Support", timezone_name="Asia/Kolkata", slug="pune")
    client = make_client(tenant)
    created = client.put("/api/v1/agents/a1", {"display_name": "Anil"}, format="json")
    assert created.status_code == 201
    return client


def test_kolkata_hours_are_local_hours(pune):
    post(
        pune,
        [
            answered("k1", "2026-11-20T04:20:00Z", talk=10),  # 09:50 IST
            answered("k2", "2026-11-20T04:50:00Z", talk=20),  # 10:20 IST
            answered("k3", "2026-11-20T05:10:00Z", talk=40),  # 10:40 IST (another UTC hour)
        ],
    )
    body = series(pune, period="day", date="2026-11-20", granularity="hour")
    points = body["points"]
    assert body["period"]["start"] == "2026-11-20T00:00:00+05:30"
    assert len(points) == 24
    assert points[0]["start"] == "2026-11-20T00:00:00+05:30"
    assert points[10]["start"] == "2026-11-20T10:00:00+05:30"
    assert (points[9]["value"], points[9]["volume"]) == (10.0, 1)
    # k2 and k3 share the local hour 10:00-11:00 though they are in different UTC hours
    assert (points[10]["value"], points[10]["volume"]) == (30.0, 2)  # (20 + 40) / 2


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        ("2026-11-20T10:00:00+05:30", "2026-11-20T11:00:00+05:30", True),
        ("2026-11-20T04:30:00Z", "2026-11-20T05:30:00Z", True),  # 10:00-11:00 IST
        ("2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", False),  # 15:30 IST
        ("2026-11-20T10:00:00+08:00", "2026-11-20T11:00:00+08:00", False),  # 07:30 IST
    ],
)
def test_kolkata_custom_windows_must_start_on_local_hours(pune, start, end, ok):
    response = pune.get("/api/v1/agents/a1/kpis", {"start": start, "end": end})
    if ok:
        assert response.status_code == 200, response.content
        assert response.json()["period"]["start"] == "2026-11-20T10:00:00+05:30"
    else:
        assert "start" in problem(response, 400)["errors"]
