"""KPI queries over HTTP: agents and teams, sub-teams, moves, series, access, turnover, custom
KPIs and query counts."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from tests.helpers import problem

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = {"period": "day", "date": "2026-11-20"}
_ids = itertools.count(1)


def local(*args: Any) -> datetime:
    return datetime(*args).replace(tzinfo=SHANGHAI)


def put(client, path, body):
    response = client.put(f"/api/v1/{path}", body, format="json")
    assert response.status_code in (200, 201), response.content
    return response


def post(client, events):
    response = client.post("/api/v1/events", {"events": events}, format="json")
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": len(events), "duplicates": 0, "rejected": []}


def ev(occurred_at, agent="a1", type_="interaction", team=None, **fields):
    event = {
        "event_id": f"q{next(_ids)}",
        "type": type_,
        "occurred_at": occurred_at,
        **({"agent": agent} if agent else {}),
        **({"team": team} if team else {}),
    }
    if type_ == "interaction" and not fields:
        fields = {"answered": True, "talk_seconds": 60}
    return {**event, **fields}


def kpis(client, subject, **params):
    response = client.get(f"/api/v1/{subject}/kpis", params or DAY)
    assert response.status_code == 200, response.content
    return response.json()["kpis"]


def value(client, subject, code, **params):
    return kpis(client, subject, **params)[code]["value"]


def series(client, subject, code, **params):
    response = client.get(f"/api/v1/{subject}/kpis/{code}/series", params)
    assert response.status_code == 200, response.content
    return response.json()


# --- agents and teams over calendar periods -----------------------------------------------------
def test_agent_and_team_kpis_per_period(api, agent):
    post(
        api,
        [
            ev("2026-11-20T09:00:00+08:00"),  # the day (Friday)
            ev("2026-11-16T00:00:00+08:00"),  # the same Monday week
            ev("2026-11-03T12:00:00+08:00"),  # the same month, an earlier week
            ev("2026-10-15T12:00:00+08:00"),  # the same quarter and year
            ev("2025-12-31T23:59:00+08:00"),  # last year: only in "all"
        ],
    )
    expected = {"day": 1, "week": 2, "month": 3, "quarter": 4, "year": 4, "all": 5}
    for period, count in expected.items():
        params = {"period": period, "date": "2026-11-20"}
        for subject in ("agents/a1", "teams/t1"):
            got = kpis(api, subject, **params)["contacts_handled"]
            assert (got["value"], got["volume"]) == (count, count), (subject, period)


def test_team_value_is_the_ratio_of_sums_not_the_mean_of_agents(api, agent):
    put(api, "agents/b1", {"display_name": "Bo", "team": "t1"})
    events = [ev("2026-11-20T09:00:00+08:00", resolved_first_contact=True)]
    events += [ev("2026-11-20T10:00:00+08:00", "b1", resolved_first_contact=True)]
    events += [
        ev(f"2026-11-20T11:{i:02d}:00+08:00", "b1", resolved_first_contact=False) for i in range(8)
    ]
    post(api, events)
    a1 = kpis(api, "agents/a1")["fcr"]
    b1 = kpis(api, "agents/b1")["fcr"]
    team = kpis(api, "teams/t1")["fcr"]
    assert (a1["value"], a1["numerator"], a1["denominator"]) == (100.0, 1, 1)
    assert (b1["value"], b1["numerator"], b1["denominator"]) == (11.11, 1, 9)  # 1 / 9
    # team: (1 + 1) / (1 + 9) = 20 %, not the mean (100 + 11.11) / 2 = 55.56
    assert (team["value"], team["numerator"], team["denominator"]) == (20.0, 2, 10)
    assert team["qualified"] is True  # 10 ≥ min volume 10
    assert a1["qualified"] is False


def test_team_includes_sub_teams_and_team_level_events(api, agent):
    put(api, "teams/root", {"name": "Support"})
    put(api, "teams/t1", {"name": "Tier 1", "parent": "root"})
    put(api, "teams/t1x", {"name": "Tier 1 nights", "parent": "t1"})
    put(api, "teams/t2", {"name": "Tier 2", "parent": "root"})
    put(api, "agents/b1", {"display_name": "Bo", "team": "t1x"})
    put(api, "agents/c1", {"display_name": "Cy", "team": "t2"})
    post(
        api,
        [
            ev("2026-11-20T09:00:00+08:00", "a1"),
            ev("2026-11-20T09:00:00+08:00", "b1"),
            ev("2026-11-20T09:00:00+08:00", "c1"),
            # abandoned calls that never reached an agent: team-level events
            ev("2026-11-20T09:30:00+08:00", None, team="root", abandoned=True, wait_seconds=30),
            ev("2026-11-20T09:30:00+08:00", None, team="t1", abandoned=True, wait_seconds=30),
        ],
    )
    handled = {s: value(api, f"teams/{s}", "contacts_handled") for s in ("root", "t1", "t1x", "t2")}
    # root: a1 + b1 + c1; t1: a1 + b1 (t1x is below it); t1x: b1; t2: c1
    assert handled == {"root": 3, "t1": 2, "t1x": 1, "t2": 1}
    abandon = {s: kpis(api, f"teams/{s}")["abandon_rate"] for s in ("root", "t1", "t1x", "t2")}
    # root: 2 abandoned / 5 offered = 40 %; t1: 1 / 3 (a1, b1, its own abandon) = 33.33 %
    assert (abandon["root"]["value"], abandon["root"]["denominator"]) == (40.0, 5)
    assert (abandon["t1"]["value"], abandon["t1"]["denominator"]) == (33.33, 3)
    assert (abandon["t1x"]["value"], abandon["t2"]["value"]) == (0.0, 0.0)
    # a team-level event counts for no agent
    assert kpis(api, "agents/a1")["abandon_rate"]["denominator"] == 1


def handled(client, subject):
    return value(client, subject, "contacts_handled")


def test_moving_an_agent_does_not_move_its_past_events(api, team):
    put(api, "teams/t2", {"name": "Tier 2"})
    with time_machine.travel(local(2026, 11, 1, 9), tick=False):
        put(api, "agents/m1", {"display_name": "Mo", "team": "t1"})
    post(api, [ev("2026-11-20T09:00:00+08:00", "m1")])  # in t1
    assert (handled(api, "teams/t1"), handled(api, "teams/t2")) == (1, None)

    with time_machine.travel(local(2026, 11, 20, 12), tick=False):
        moved = put(api, "agents/m1", {"display_name": "Mo", "team": "t2"})
    assert moved.json()["team"] == "t2"
    post(
        api,
        [
            ev("2026-11-20T10:00:00+08:00", "m1"),  # late: it happened while m1 was in t1
            ev("2026-11-20T15:00:00+08:00", "m1"),  # after the move
            ev("2026-11-20T16:00:00+08:00", "m1"),
        ],
    )
    assert handled(api, "teams/t1") == 2  # 09:00 and 10:00
    assert handled(api, "teams/t2") == 2  # 15:00 and 16:00
    assert handled(api, "agents/m1") == 4  # the agent keeps all of its own


def test_an_agent_event_stamped_with_another_team_counts_for_that_team(api, agent):
    put(api, "teams/t2", {"name": "Tier 2"})
    post(api, [ev("2026-11-20T09:00:00+08:00", "a1", team="t2")])
    assert (handled(api, "teams/t1"), handled(api, "teams/t2")) == (None, 1)
    assert handled(api, "agents/a1") == 1


# --- series -------------------------------------------------------------------------------------
def test_daily_series_over_a_week_includes_empty_days(api, agent):
    post(
        api,
        [
            ev("2026-11-17T09:00:00+08:00", resolved_first_contact=True),
            ev("2026-11-20T09:00:00+08:00", resolved_first_contact=True),
            ev("2026-11-20T23:59:59+08:00", resolved_first_contact=False),
        ],
    )
    body = series(api, "agents/a1", "fcr", period="week", date="2026-11-20", granularity="day")
    assert body["kpi"] == "fcr"
    assert body["granularity"] == "day"
    assert body["period"] == {
        "type": "week",
        "start": "2026-11-16T00:00:00+08:00",
        "end": "2026-11-23T00:00:00+08:00",
    }
    points = body["points"]
    assert [p["start"] for p in points] == [f"2026-11-{d}T00:00:00+08:00" for d in range(16, 23)]
    by_day = [(p["value"], p["numerator"], p["denominator"], p["volume"]) for p in points]
    empty = (None, 0, 0, 0)
    assert by_day == [empty, (100.0, 1, 1, 1), empty, empty, (50.0, 1, 2, 2), empty, empty]


def test_series_defaults_to_days_of_this_week(api, agent):
    with time_machine.travel(local(2026, 11, 20, 9), tick=False):
        body = series(api, "agents/a1", "aht")
    assert body["granularity"] == "day"
    assert body["period"]["type"] == "week"
    assert len(body["points"]) == 7


def test_weekly_series_over_a_month_clips_the_first_and_last_week(api, agent):
    post(
        api,
        [
            ev("2026-10-01T10:00:00+08:00", talk_seconds=10, answered=True),  # Thursday
            ev("2026-10-20T10:00:00+08:00", talk_seconds=20, answered=True),
            ev("2026-10-31T10:00:00+08:00", talk_seconds=40, answered=True),  # Saturday
            ev("2026-11-01T10:00:00+08:00", talk_seconds=80, answered=True),  # next month
        ],
    )
    body = series(api, "agents/a1", "aht", period="month", date="2026-10-20", granularity="week")
    # Monday weeks within October: Thu 1 (a week's tail), 5, 12, 19, 26 (cut at Nov 1)
    assert [p["start"] for p in body["points"]] == [
        f"2026-10-{d:02d}T00:00:00+08:00" for d in (1, 5, 12, 19, 26)
    ]
    assert [p["value"] for p in body["points"]] == [10.0, None, None, 20.0, 40.0]


def test_hourly_and_monthly_series(api, agent):
    post(
        api,
        [
            ev("2026-11-20T00:59:59+08:00", talk_seconds=10, answered=True),
            ev("2026-11-20T23:00:00+08:00", talk_seconds=30, answered=True),
            ev("2026-02-10T10:00:00+08:00", talk_seconds=50, answered=True),
        ],
    )
    hours = series(api, "agents/a1", "aht", period="day", date="2026-11-20", granularity="hour")
    assert len(hours["points"]) == 24
    assert hours["points"][0]["start"] == "2026-11-20T00:00:00+08:00"
    assert hours["points"][23]["start"] == "2026-11-20T23:00:00+08:00"
    assert [p["value"] for p in hours["points"] if p["value"] is not None] == [10.0, 30.0]
    months = series(api, "agents/a1", "aht", period="year", date="2026-11-20", granularity="month")
    assert [p["start"][:10] for p in months["points"]] == [f"2026-{m:02d}-01" for m in range(1, 13)]
    assert months["points"][1]["value"] == 50.0
    assert months["points"][10]["value"] == 20.0  # (10 + 30) / 2


def test_team_series_sums_its_agents(api, agent):
    put(api, "agents/b1", {"display_name": "Bo", "team": "t1"})
    post(
        api,
        [
            ev("2026-11-20T09:00:00+08:00", "a1", resolved_first_contact=True),
            ev("2026-11-20T09:10:00+08:00", "b1", resolved_first_contact=False),
            ev("2026-11-20T09:20:00+08:00", "b1", resolved_first_contact=False),
            ev("2026-11-20T09:30:00+08:00", "b1", resolved_first_contact=False),
        ],
    )
    body = series(api, "teams/t1", "fcr", period="day", date="2026-11-20", granularity="hour")
    point = body["points"][9]
    # 1 of 4 = 25 %, not the mean of 100 % and 0 %
    assert (point["start"], point["value"], point["denominator"]) == (
        "2026-11-20T09:00:00+08:00",
        25.0,
        4,
    )


def test_series_over_all_time_starts_at_the_first_granule(api, agent):
    post(api, [ev("2026-10-15T09:30:00+08:00"), ev("2026-11-20T09:00:00+08:00")])
    with time_machine.travel(local(2026, 11, 20, 12), tick=False):
        body = series(api, "agents/a1", "aht", period="all", granularity="month")
    points = body["points"]
    assert len(points) == 2
    assert points[1]["start"] == "2026-11-01T00:00:00+08:00"
    assert (points[0]["value"], points[1]["value"]) == (60.0, 60.0)


def test_series_over_all_time_aligns_the_first_granule_to_the_calendar(api, agent):
    post(api, [ev("2026-10-15T09:30:00+08:00"), ev("2026-11-20T09:00:00+08:00")])
    with time_machine.travel(local(2026, 11, 20, 12), tick=False):
        months = series(api, "agents/a1", "aht", period="all", granularity="month")
        days = series(api, "agents/a1", "aht", period="all", granularity="day")
    assert months["points"][0]["start"] == "2026-10-01T00:00:00+08:00"
    assert days["points"][0]["start"] == "2026-10-15T00:00:00+08:00"


def test_series_of_an_unknown_kpi_is_a_404(api, agent, team):
    problem(api.get("/api/v1/agents/a1/kpis/nope/series"), 404)
    problem(api.get("/api/v1/teams/t1/kpis/nope/series"), 404)
    # turnover is a team KPI only
    problem(api.get("/api/v1/agents/a1/kpis/turnover/series"), 404)


@pytest.mark.parametrize("granularity", ["minute", "year", "quarter", "HOUR"])
def test_series_with_a_bad_granularity_is_a_400(api, agent, granularity):
    response = api.get("/api/v1/agents/a1/kpis/aht/series", {"granularity": granularity})
    assert list(problem(response, 400)["errors"]) == ["granularity"]


def test_series_with_too_many_points_is_a_400(api, agent):
    response = api.get(
        "/api/v1/agents/a1/kpis/aht/series", {"period": "year", "granularity": "hour"}
    )
    assert "granularity" in problem(response, 400)["errors"]


def test_unknown_agent_or_team_is_a_404(api, agent):
    problem(api.get("/api/v1/agents/ghost/kpis"), 404)
    problem(api.get("/api/v1/teams/ghost/kpis"), 404)
    problem(api.get("/api/v1/agents/ghost/kpis/aht/series"), 404)
    problem(api.get("/api/v1/teams/ghost/kpis/aht/series"), 404)


# --- access -------------------------------------------------------------------------------------
def test_widget_token_reads_only_its_own_agent(api, agent):
    put(api, "agents/b1", {"display_name": "Bo", "team": "t1"})
    post(api, [ev("2026-11-20T09:00:00+08:00", "a1"), ev("2026-11-20T09:00:00+08:00", "b1")])
    minted = api.post("/api/v1/widget-tokens", {"agent": "a1"}, format="json")
    assert minted.status_code == 201, minted.content
    widget = APIClient()
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {minted.json()['token']}")
    assert value(widget, "agents/a1", "contacts_handled") == 1
    assert series(widget, "agents/a1", "aht", **DAY)["points"][0]["value"] == 60.0
    problem(widget.get("/api/v1/agents/b1/kpis", DAY), 403)
    problem(widget.get("/api/v1/agents/b1/kpis/aht/series", DAY), 403)
    problem(widget.get("/api/v1/teams/t1/kpis", DAY), 403)
    problem(widget.get("/api/v1/teams/t1/kpis/aht/series", DAY), 403)


def test_read_scope_is_enough_and_no_credentials_is_a_401(tenant, agent, make_client):
    reader = make_client(tenant, scopes=("read",))
    assert reader.get("/api/v1/agents/a1/kpis", DAY).status_code == 200
    assert reader.get("/api/v1/teams/t1/kpis", DAY).status_code == 200
    ingest_only = make_client(tenant, scopes=("ingest",))
    problem(ingest_only.get("/api/v1/agents/a1/kpis", DAY), 403)
    problem(APIClient().get("/api/v1/agents/a1/kpis", DAY), 401)


def test_another_tenant_gets_404_for_our_agents_and_teams(api, agent, outsider_api):
    post(api, [ev("2026-11-20T09:00:00+08:00")])
    for path in (
        "agents/a1/kpis",
        "teams/t1/kpis",
        "agents/a1/kpis/aht/series",
        "teams/t1/kpis/aht/series",
    ):
        problem(outsider_api.get(f"/api/v1/{path}", DAY), 404)
    # the outsider's own "a1" is another agent: its events never reach ours
    post(outsider_api, [ev("2026-11-20T09:00:00+01:00"), ev("2026-11-20T10:00:00+01:00")])
    assert handled(api, "agents/a1") == 1
    assert value(outsider_api, "agents/a1", "contacts_handled") == 2


# --- turnover -----------------------------------------------------------------------------------
@pytest.fixture
def sales(api, tenant):
    """Team "sales": s1-s4 join on Oct 15; s1 leaves Nov 10, s5 joins Nov 12, s2 leaves Nov 18.

    Team "t9" has o1 (joins Oct 15, leaves Nov 10): never counted for sales.
    """
    put(api, "teams/sales", {"name": "Sales"})
    put(api, "teams/t9", {"name": "Other"})
    with time_machine.travel(local(2026, 10, 15, 9), tick=False):
        for ext in ("s1", "s2", "s3", "s4"):
            put(api, f"agents/{ext}", {"display_name": ext, "team": "sales"})
        put(api, "agents/o1", {"display_name": "o1", "team": "t9"})
    with time_machine.travel(local(2026, 11, 10, 15), tick=False):
        assert api.delete("/api/v1/agents/s1").status_code == 204
        assert api.delete("/api/v1/agents/o1").status_code == 204
    with time_machine.travel(local(2026, 11, 12, 9), tick=False):
        put(api, "agents/s5", {"display_name": "s5", "team": "sales"})
    with time_machine.travel(local(2026, 11, 18, 15), tick=False):
        assert api.delete("/api/v1/agents/s2").status_code == 204
        # deactivating twice is no second departure
        assert api.delete("/api/v1/agents/s2").status_code == 204


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # November: active at start s1-s4 = 4, at end s3, s4, s5 = 3; leavers s1, s2 = 2
        # → 100 * 2 / ((4 + 3) / 2) = 200 / 3.5 = 57.142… → 57.14
        ({"period": "month", "date": "2026-11-20"}, (57.14, 2, 3.5)),
        # Nov 10: 4 at start, 3 at end, 1 leaver → 100 * 1 / 3.5 = 28.57
        ({"period": "day", "date": "2026-11-10"}, (28.57, 1, 3.5)),
        # Nov 11: 3 and 3, nobody left → 0
        ({"period": "day", "date": "2026-11-11"}, (0.0, 0, 3)),
        # Nov 12: s5 joins: 3 at start, 4 at end → 0 / 3.5
        ({"period": "day", "date": "2026-11-12"}, (0.0, 0, 3.5)),
        # week of Mon Nov 16: 4 (s2-s5) at start, 3 at end, s2 left → 100 / 3.5 = 28.57
        ({"period": "week", "date": "2026-11-18"}, (28.57, 1, 3.5)),
        # October: nobody active on Oct 1, 4 on Nov 1 → 0 / 2
        ({"period": "month", "date": "2026-10-20"}, (0.0, 0, 2)),
        # September: no agent yet → no headcount, no value
        ({"period": "month", "date": "2026-09-20"}, (None, 0, 0)),
    ],
)
def test_team_turnover_by_hand(api, sales, params, expected):
    got = kpis(api, "teams/sales", **params)["turnover"]
    assert (got["value"], got["numerator"], got["denominator"]) == expected


def test_turnover_is_a_team_kpi_only(api, sales):
    assert "turnover" not in kpis(api, "agents/s3")
    other = kpis(api, "teams/t9", period="month", date="2026-11-20")["turnover"]
    # o1: 1 at start, 0 at end, 1 leaver → 100 * 1 / 0.5 = 200
    assert (other["value"], other["numerator"], other["denominator"]) == (200.0, 1, 0.5)


def test_turnover_series_by_day(api, sales):
    body = series(
        api, "teams/sales", "turnover", period="week", date="2026-11-10", granularity="day"
    )
    # Mon Nov 9 - Sun Nov 15: s1 leaves on Tue 10
    values = [p["value"] for p in body["points"]]
    assert values == [0.0, 28.57, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_turnover_of_a_parent_team_includes_sub_teams(api, sales):
    put(api, "teams/org", {"name": "Org"})
    put(api, "teams/sales", {"name": "Sales", "parent": "org"})
    put(api, "teams/t9", {"name": "Other", "parent": "org"})
    got = kpis(api, "teams/org", period="month", date="2026-11-20")["turnover"]
    # start: s1-s4, o1 = 5; end: s3, s4, s5 = 3; leavers s1, s2, o1 = 3 → 300 / 4 = 75
    assert (got["value"], got["numerator"], got["denominator"]) == (75.0, 3, 4)


# --- custom KPIs --------------------------------------------------------------------------------
def create_kpi(client, **body):
    response = client.post("/api/v1/kpis", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def metric(kpi, value_, agent="a1", at="2026-11-20T09:00:00+08:00", **fields):
    return ev(at, agent, "metric", kpi=kpi, value=value_, **fields)


def test_custom_kpis_sum_and_ratio(api, agent):
    create_kpi(api, code="revenue", name="Revenue", unit="count",
               direction="higher_is_better", aggregation="sum", min_volume=0)  # fmt: skip
    created = create_kpi(
        api, code="upsell", name="Upsell rate", unit="percent",
        direction="higher_is_better", aggregation="ratio", min_volume=3,
    )  # fmt: skip
    assert created["custom"] is True
    create_kpi(api, code="callback_wait", name="Callback wait", unit="seconds",
               direction="lower_is_better", aggregation="ratio", min_volume=0)  # fmt: skip
    post(
        api,
        [
            metric("revenue", 120.5),
            metric("revenue", 79.5),
            metric("revenue", 300, count=2),
            metric("upsell", 1),
            metric("upsell", 0),
            metric("upsell", 1),
            metric("callback_wait", 30),
            metric("callback_wait", 90),
            metric("revenue", 1000, at="2026-11-21T09:00:00+08:00"),  # another day
        ],
    )
    got = kpis(api, "agents/a1")
    # sum: 120.5 + 79.5 + 300 = 500; count 1 + 1 + 2 = 4
    assert got["revenue"] == {
        "value": 500.0,
        "numerator": 500,
        "denominator": 4,
        "volume": 4,
        "qualified": True,
    }
    # ratio in percent: 100 * (1 + 0 + 1) / 3 = 66.67, volume 3 ≥ 3
    assert got["upsell"] == {
        "value": 66.67,
        "numerator": 2,
        "denominator": 3,
        "volume": 3,
        "qualified": True,
    }
    # ratio in seconds: (30 + 90) / 2 = 60
    assert got["callback_wait"]["value"] == 60.0
    # the team gets the same sums
    team = kpis(api, "teams/t1")
    assert (team["revenue"]["value"], team["upsell"]["value"]) == (500.0, 66.67)
    month = kpis(api, "agents/a1", period="month", date="2026-11-20")
    assert month["revenue"]["value"] == 1500.0
    hours = series(api, "agents/a1", "revenue", period="day", date="2026-11-20", granularity="hour")
    assert [p["value"] for p in hours["points"] if p["value"] is not None] == [500.0]
    assert hours["points"][9]["start"] == "2026-11-20T09:00:00+08:00"


def test_custom_kpi_without_events_has_no_value(api, agent):
    create_kpi(api, code="revenue", name="Revenue", unit="count",
               direction="higher_is_better", aggregation="sum", min_volume=0)  # fmt: skip
    assert kpis(api, "agents/a1")["revenue"] == {
        "value": None,
        "numerator": 0,
        "denominator": 0,
        "volume": 0,
        "qualified": False,
    }


def test_metric_for_an_unknown_kpi_is_rejected_naming_kpi(api, agent):
    response = api.post("/api/v1/events", {"events": [metric("nope", 1)]}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 0
    assert list(body["rejected"][0]["errors"]) == ["kpi"]


# --- query counts -------------------------------------------------------------------------------
def test_kpi_reads_take_a_constant_number_of_queries(api, agent, count_queries):
    create_kpi(api, code="revenue", name="Revenue", unit="count",
               direction="higher_is_better", aggregation="sum", min_volume=0)  # fmt: skip
    put(api, "agents/b1", {"display_name": "Bo", "team": "t1"})
    post(api, [ev("2026-11-20T09:00:00+08:00")])
    urls = [
        ("/api/v1/agents/a1/kpis", {"period": "month", "date": "2026-11-20"}),
        ("/api/v1/teams/t1/kpis", {"period": "month", "date": "2026-11-20"}),
        ("/api/v1/agents/a1/kpis/aht/series", {"period": "month", "granularity": "day",
                                               "date": "2026-11-20"}),
    ]  # fmt: skip
    for url, params in urls:  # warm up (API key last use, caches)
        assert api.get(url, params).status_code == 200

    def counts():
        return [count_queries(lambda u=url, p=params: api.get(u, p)) for url, params in urls]

    few = counts()
    many = [
        ev(f"2026-11-{day:02d}T{hour:02d}:30:00+08:00", agent_id)
        for day in range(1, 21)
        for hour in (8, 13, 19)
        for agent_id in ("a1", "b1")
    ]
    many += [metric("revenue", 5, at=f"2026-11-{day:02d}T10:00:00+08:00") for day in range(1, 21)]
    post(api, many)
    assert counts() == few, few
    agent_queries = few[0]
    assert agent_queries <= 6, f"GET /agents/a1/kpis took {agent_queries} queries"
