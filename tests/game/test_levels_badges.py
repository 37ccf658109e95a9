"""Levels (the table, level-ups, the profile's level) and badges of every criteria kind:
validation naming the field, monotone badges awarded the moment they hold, ratio badges at
finalization, streak edge cases (gaps, low volume, week/month boundaries, a 25-hour DST day,
repeatable multiples), coins into the wallet, no duplicates under retries, and the feeds
(GET /agents/{id}/badges, GET /activity).

Streak choice (documented in gamify/game/finalization.py): a day without activity or under
the minimum volume breaks a streak; streaks count calendar-consecutive periods.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.services import agent_upsert, team_upsert, tenant_create
from gamify.activity.models import Activity
from gamify.game import services
from gamify.game.engine import game_recompute
from gamify.game.finalization import period_finalize
from gamify.game.models import AgentGameState, Badge, BadgeAward
from kpis.ingest import batches_apply
from tests.game.support import (
    SHANGHAI,
    adherence,
    call,
    days,
    ingest,
    local,
    make_badge,
    make_rule,
    survey,
)
from tests.helpers import problem

pytestmark = pytest.mark.django_db

TABLE = [
    {"number": 1, "name": "Rookie", "min_points": 0},
    {"number": 2, "name": "Pro", "min_points": 50},
    {"number": 3, "name": "Star", "min_points": 100},
    {"number": 4, "name": "Legend", "min_points": 200},
]
D = "2026-11-10"


def awards(badge, agent=None):
    rows = BadgeAward.objects.filter(badge=badge)
    if agent is not None:
        rows = rows.filter(agent=agent)
    return sorted(rows.values_list("period_key", flat=True))


# --- levels ---------------------------------------------------------------------------------
def test_default_level_table(api, tenant):
    assert api.get("/api/v1/levels").json() == [{"number": 1, "name": "Rookie", "min_points": 0}]


def test_put_levels_replaces_the_table(api, tenant):
    response = api.put("/api/v1/levels", TABLE, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == TABLE
    assert api.get("/api/v1/levels").json() == TABLE
    shorter = TABLE[:2]
    assert api.put("/api/v1/levels", shorter, format="json").json() == shorter
    assert api.get("/api/v1/levels").json() == shorter


def lv(number, name, minimum):
    return {"number": number, "name": name, "min_points": minimum}


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ([lv(1, "A", 10)], "0.min_points"),  # the first level starts at 0
        ([lv(1, "A", 0), lv(2, "B", 50), lv(3, "C", 50)], "2.min_points"),  # not increasing
        ([lv(1, "A", 0), lv(2, "B", 100), lv(3, "C", 50)], "2.min_points"),  # decreasing
        ([lv(1, "A", 0), lv(2, "B", -5)], "1.min_points"),
        ([lv(1, "A", 0), lv(2, "B", "10")], "1.min_points"),  # a string is not a number
        ([lv(1, "A", 0), lv(3, "B", 10)], "1.number"),  # numbers 1, 2, 3 …
        ([lv(1, "", 0)], "0.name"),
        ([{**lv(1, "A", 0), "color": "red"}], "0.color"),
        ([lv(1, "A", 0), "level two"], "1"),
        ([], "levels"),
        ({"number": 1, "name": "A", "min_points": 0}, "levels"),  # not a list
    ],
)
def test_bad_level_tables(api, tenant, table, field):
    api.put("/api/v1/levels", TABLE, format="json")
    body = problem(api.put("/api/v1/levels", table, format="json"), 400)
    assert field in body["errors"], body
    assert api.get("/api/v1/levels").json() == TABLE  # unchanged


def test_put_levels_needs_manage(make_client, tenant):
    reader = make_client(tenant, ("read",))
    assert reader.get("/api/v1/levels").status_code == 200
    problem(reader.put("/api/v1/levels", TABLE, format="json"), 403)


def level_ups(agent):
    return sorted(
        Activity.objects.filter(type="level.up", agent=agent).values_list("data__level", flat=True)
    )


def test_level_up_is_recorded_once_per_level(api, commit, tenant, agent):
    services.levels_replace(tenant=tenant, levels=TABLE)
    rule = make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10)
    ingest(tenant, [call("a1", local(D, 9, m)) for m in range(6)])  # 60 points → level 2
    assert AgentGameState.objects.get(agent=agent).level == 2
    assert level_ups(agent) == [2]
    # 60 + 200 = 260 points: levels 3 and 4 reached in one go, one activity each
    ingest(tenant, [call("a1", local("2026-11-11", 9, m)) for m in range(20)])
    assert AgentGameState.objects.get(agent=agent).level == 4
    assert level_ups(agent) == [2, 3, 4]
    # Retries and rebuilds tell nobody twice.
    batches_apply(tenant_id=tenant.pk)
    game_recompute(tenant=tenant, agent_days=None)
    services.game_rebuild(tenant=tenant)
    assert level_ups(agent) == [2, 3, 4]
    # Points go down (rule edit: 26 contacts × 1 = 26 → level 1) and up again: no new level-ups
    services.point_rule_update(rule=rule, changes={"points": 1})
    services.game_rebuild(tenant=tenant)
    assert AgentGameState.objects.get(agent=agent).level == 1
    services.point_rule_update(rule=rule, changes={"points": 10})
    services.game_rebuild(tenant=tenant)
    assert AgentGameState.objects.get(agent=agent).level == 4
    assert level_ups(agent) == [2, 3, 4]
    feed = api.get("/api/v1/activity", {"types": "level.up"}).json()["results"]
    assert [a["data"]["level"] for a in feed] == [4, 3, 2]  # newest first
    assert feed[0]["data"]["name"] == "Legend"


def test_an_adjustment_can_level_up(api, tenant, agent):
    services.levels_replace(tenant=tenant, levels=TABLE)
    response = api.post(
        "/api/v1/agents/a1/points/adjustments",
        {"points": 120, "reason": "Top of the quarter"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert response.status_code == 201
    assert level_ups(agent) == [2, 3]


def test_profile_level(api, tenant, agent):
    services.levels_replace(tenant=tenant, levels=TABLE)
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10)
    ingest(tenant, [call("a1", local(D, 9, m)) for m in range(6)])  # 60 points
    level = api.get("/api/v1/agents/a1/profile").json()["level"]
    # 50 ≤ 60 < 100: level 2 "Pro", next at 100, 100 − 60 = 40 to go
    assert level == {
        "number": 2,
        "name": "Pro",
        "min_points": 50,
        "next_min_points": 100,
        "points_to_next": 40,
    }
    ingest(tenant, [call("a1", local(D, 10, m)) for m in range(15)])  # 210 points: the top
    level = api.get("/api/v1/agents/a1/profile").json()["level"]
    assert level == {
        "number": 4,
        "name": "Legend",
        "min_points": 200,
        "next_min_points": None,
        "points_to_next": None,
    }


def test_profile_level_at_exactly_a_threshold(api, tenant, agent):
    services.levels_replace(tenant=tenant, levels=TABLE)
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10)
    ingest(tenant, [call("a1", local(D, 9, m)) for m in range(10)])  # exactly 100
    level = api.get("/api/v1/agents/a1/profile").json()["level"]
    assert (level["number"], level["points_to_next"]) == (3, 100)


# --- badge configuration --------------------------------------------------------------------
CRITERIA = {
    "kpi_threshold": {
        "kind": "kpi_threshold",
        "kpi": "csat",
        "op": ">=",
        "threshold": 90,
        "period": "day",
        "min_volume": 3,
    },
    "count": {"kind": "count", "kpi": "contacts_handled", "count": 100, "period": "lifetime"},
    "streak": {
        "kind": "streak",
        "kpi": "adherence",
        "op": ">=",
        "threshold": 95,
        "period": "day",
        "length": 5,
    },
    "points": {"kind": "points", "points": 1000},
    "contest_place": {"kind": "contest_place", "rank": 3},
}


@pytest.mark.parametrize("kind", sorted(CRITERIA))
def test_create_a_badge_of_every_kind(api, commit, tenant, kind):
    body = {
        "code": f"b-{kind.replace('_', '-')}",
        "name": f"Badge {kind}",
        "description": "d",
        "icon": "🏅",
        "coins": 5,
        "repeatable": False,
        "criteria": CRITERIA[kind],
    }
    response = commit(lambda: api.post("/api/v1/badges", body, format="json"))
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["criteria"]["kind"] == kind
    for name, value in CRITERIA[kind].items():
        assert created["criteria"][name] == value
    assert api.get(f"/api/v1/badges/{body['code']}").json() == created
    assert [b["code"] for b in api.get("/api/v1/badges").json()["results"]] == [body["code"]]


REQUIRED = {
    "kpi_threshold": ["kpi", "threshold", "period"],
    "count": ["kpi", "count"],
    "streak": ["kpi", "threshold", "period", "length"],
    "points": ["points"],
    "contest_place": ["rank"],
}


@pytest.mark.parametrize(
    ("kind", "missing"), [(k, f) for k, fields in sorted(REQUIRED.items()) for f in fields]
)
def test_a_criteria_object_missing_a_field_names_it(api, tenant, kind, missing):
    criteria = {k: v for k, v in CRITERIA[kind].items() if k != missing}
    response = api.post(
        "/api/v1/badges", {"code": "bb", "name": "B", "criteria": criteria}, format="json"
    )
    assert f"criteria.{missing}" in problem(response, 400)["errors"]
    assert not Badge.objects.exists()


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({**CRITERIA["kpi_threshold"], "kpi": "happiness"}, "criteria.kpi"),
        ({**CRITERIA["count"], "kpi": "turnover"}, "criteria.kpi"),  # teams only
        ({**CRITERIA["kpi_threshold"], "op": ">"}, "criteria.op"),
        ({**CRITERIA["streak"], "period": "month"}, "criteria.period"),
        ({**CRITERIA["streak"], "length": 1}, "criteria.length"),
        ({**CRITERIA["count"], "count": 0}, "criteria.count"),
        ({**CRITERIA["count"], "count": "10"}, "criteria.count"),
        ({**CRITERIA["points"], "points": -1}, "criteria.points"),
        ({**CRITERIA["kpi_threshold"], "threshold": "high"}, "criteria.threshold"),
        ({**CRITERIA["points"], "kpi": "csat"}, "criteria.kpi"),  # not a field of points
        ({"kind": "mood"}, "criteria.kind"),
        ("streak", "criteria"),
    ],
)
def test_bad_badge_criteria(api, tenant, criteria, field):
    response = api.post(
        "/api/v1/badges", {"code": "bb", "name": "B", "criteria": criteria}, format="json"
    )
    assert field in problem(response, 400)["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "B", "criteria": CRITERIA["points"]}, "code"),
        ({"code": "B B", "name": "B", "criteria": CRITERIA["points"]}, "code"),
        ({"code": "bb", "criteria": CRITERIA["points"]}, "name"),
        ({"code": "bb", "name": "B"}, "criteria"),
        ({"code": "bb", "name": "B", "coins": -1, "criteria": CRITERIA["points"]}, "coins"),
        (
            {"code": "bb", "name": "B", "icon": "http://x/y.png", "criteria": CRITERIA["points"]},
            "icon",
        ),
        ({"code": "bb", "name": "B", "shiny": True, "criteria": CRITERIA["points"]}, "shiny"),
    ],
)
def test_bad_badge_fields(api, tenant, body, field):
    assert field in problem(api.post("/api/v1/badges", body, format="json"), 400)["errors"]


def test_badge_code_is_unique(api, tenant):
    body = {"code": "bb", "name": "B", "criteria": CRITERIA["points"]}
    assert api.post("/api/v1/badges", body, format="json").status_code == 201
    assert "code" in problem(api.post("/api/v1/badges", body, format="json"), 409)["errors"]


# --- monotone badges: awarded the moment they hold ------------------------------------------
def test_lifetime_count_badge_awarded_the_moment_it_is_met(tenant, agent):
    badge = make_badge(
        tenant, "five-contacts", {"kind": "count", "kpi": "contacts_handled", "count": 5}
    )
    ingest(tenant, [call("a1", local(D, 9, m)) for m in range(4)])
    assert awards(badge) == []  # 4 < 5
    ingest(tenant, [call("a1", local("2026-11-11", 9))])  # 5 over two days, nothing finalized
    assert awards(badge, agent) == [""]
    ingest(tenant, [call("a1", local("2026-11-12", 9, m)) for m in range(10)])
    assert awards(badge, agent) == [""]  # once given, kept once


def test_count_badge_created_after_the_fact_is_awarded(api, commit, tenant, agent):
    ingest(tenant, [call("a1", local(D, 9, m)) for m in range(3)])
    body = {
        "code": "three",
        "name": "Three",
        "criteria": {"kind": "count", "kpi": "contacts_handled", "count": 3},
    }
    assert commit(lambda: api.post("/api/v1/badges", body, format="json")).status_code == 201
    assert [b["code"] for b in api.get("/api/v1/agents/a1/badges").json()["results"]] == ["three"]


def test_daily_repeatable_count_badge_once_per_day(tenant, agent):
    badge = make_badge(
        tenant,
        "busy-day",
        {"kind": "count", "kpi": "contacts_handled", "count": 3, "period": "day"},
        repeatable=True,
    )
    once = make_badge(
        tenant,
        "first-busy-day",
        {"kind": "count", "kpi": "contacts_handled", "count": 3, "period": "day"},
    )
    ingest(tenant, [call("a1", local(D, 9, m)) for m in range(2)])
    assert awards(badge) == []
    ingest(tenant, [call("a1", local(D, 10))])  # the third contact of the day
    assert awards(badge) == [D]
    ingest(tenant, [call("a1", local(D, 11, m)) for m in range(5)])  # more the same day
    assert awards(badge) == [D]
    ingest(tenant, [call("a1", local("2026-11-11", 9, m)) for m in range(2)])  # only 2
    assert awards(badge) == [D]
    ingest(tenant, [call("a1", local("2026-11-12", 9, m)) for m in range(3)])
    assert awards(badge) == [D, "2026-11-12"]
    assert awards(once) == [""]  # a non-repeatable one is given once ever


def test_points_milestone_badge(tenant, agent):
    badge = make_badge(tenant, "fifty", {"kind": "points", "points": 50})
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10)
    ingest(tenant, [call("a1", local(D, 9, m)) for m in range(4)])  # 40
    assert awards(badge) == []
    ingest(tenant, [call("a1", local(D, 10))])  # 50
    assert awards(badge, agent) == [""]


def test_points_milestone_reached_by_an_adjustment_is_awarded_at_once(api, tenant, agent):
    badge = make_badge(tenant, "fifty", {"kind": "points", "points": 50})
    response = api.post(
        "/api/v1/agents/a1/points/adjustments",
        {"points": 60, "reason": "Covered a shift"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 201
    # lifetime 60 ≥ 50: a monotone criterion, awarded the moment it is met
    assert awards(badge, agent) == [""]


# --- ratio badges: awarded at finalization --------------------------------------------------
def test_kpi_threshold_badge_awarded_only_at_finalization(tenant, agent):
    team_upsert(tenant=tenant, external_id="t1", name="Tier 1", parent_external_id=None)
    a2, _ = agent_upsert(tenant=tenant, external_id="a2", display_name="Bo", team_external_id="t1")
    badge = make_badge(tenant, "delight", CRITERIA["kpi_threshold"])  # csat ≥ 90 over ≥ 3
    ingest(
        tenant,
        [survey("a1", local(D, 9 + n), 5) for n in range(3)]  # 100 % over 3
        + [survey("a2", local(D, 9 + n), 5) for n in range(2)],  # 100 % over 2 < 3
    )
    assert awards(badge) == []  # it could still turn false today
    period_finalize(tenant=tenant, kind="day", start=date.fromisoformat(D))
    assert awards(badge, agent) == [""]
    assert awards(badge, a2) == []
    award = BadgeAward.objects.get(badge=badge)
    assert award.data["value"] == 100.0


def test_weekly_kpi_threshold_waits_for_the_week(tenant, agent):
    criteria = {**CRITERIA["kpi_threshold"], "period": "week"}
    badge = make_badge(tenant, "great-week", criteria)
    ingest(tenant, [survey("a1", local(D, 9 + n), 5) for n in range(3)])
    period_finalize(tenant=tenant, kind="day", start=date.fromisoformat(D))
    assert awards(badge) == []  # a day closing is not the week closing
    period_finalize(tenant=tenant, kind="week", start=date(2026, 11, 9))
    assert awards(badge, agent) == [""]


# --- streaks --------------------------------------------------------------------------------
STREAK = {
    "kind": "streak",
    "kpi": "adherence",
    "op": ">=",
    "threshold": 95,
    "period": "day",
    "length": 3,
    "min_volume": 3600,
}


def work(tenant, agent, day, *, scheduled=3600, adherent=3600, tz=SHANGHAI):
    """One day of adherence for an agent, applied, then that day finalized."""
    ingest(tenant, [adherence(agent, local(day, 12, tz=tz), scheduled, adherent)])
    period_finalize(tenant=tenant, kind="day", start=day)


def close(tenant, day):
    period_finalize(tenant=tenant, kind="day", start=day)


def test_three_good_days_make_a_streak(tenant, agent):
    badge = make_badge(tenant, "steady", STREAK)
    first, second, third = days("2026-11-10", 3)
    work(tenant, "a1", first)
    work(tenant, "a1", second)
    assert awards(badge) == []
    work(tenant, "a1", third)
    assert awards(badge, agent) == [""]
    assert BadgeAward.objects.get(badge=badge).data["length"] == 3


def test_a_gap_day_breaks_the_streak(tenant, agent):
    badge = make_badge(tenant, "steady", STREAK)
    d = days("2026-11-10", 7)
    work(tenant, "a1", d[0])
    work(tenant, "a1", d[1])
    close(tenant, d[2])  # no activity at all that day
    work(tenant, "a1", d[3])
    work(tenant, "a1", d[4])
    assert awards(badge) == []  # 2, gap, 2
    work(tenant, "a1", d[5])
    assert awards(badge, agent) == [""]  # d3, d4, d5


def test_a_day_under_the_minimum_volume_breaks_the_streak(tenant, agent):
    badge = make_badge(tenant, "steady", STREAK)
    d = days("2026-11-10", 5)
    work(tenant, "a1", d[0])
    work(tenant, "a1", d[1])
    # 100 % adherent but over 1800 s scheduled, under the 3600 s minimum volume
    work(tenant, "a1", d[2], scheduled=1800, adherent=1800)
    work(tenant, "a1", d[3])
    assert awards(badge) == []
    work(tenant, "a1", d[4])
    assert awards(badge) == []  # d3, d4 only: 2 < 3


def test_a_day_under_the_threshold_breaks_the_streak(tenant, agent):
    badge = make_badge(tenant, "steady", STREAK)
    d = days("2026-11-10", 4)
    work(tenant, "a1", d[0])
    work(tenant, "a1", d[1], adherent=3000)  # 83.33 % < 95
    work(tenant, "a1", d[2])
    work(tenant, "a1", d[3])
    assert awards(badge) == []


@pytest.mark.parametrize(
    ("first", "label"),
    [("2026-11-14", "Sat, Sun → Mon: a week boundary"), ("2026-10-30", "Oct 30, 31 → Nov 1")],
)
def test_a_streak_crosses_week_and_month_boundaries(tenant, agent, first, label):
    badge = make_badge(tenant, "steady", STREAK)
    for day in days(first, 3):
        work(tenant, "a1", day)
    assert awards(badge, agent) == [""], label


def test_a_streak_crosses_a_dst_day():
    """America/New_York: 2026-11-01 has 25 hours (clocks fall back at 02:00)."""
    new_york = ZoneInfo("America/New_York")
    tenant = tenant_create(name="NY", timezone_name="America/New_York", slug="ny")
    team_upsert(tenant=tenant, external_id="t", name="T", parent_external_id=None)
    agent, _ = agent_upsert(tenant=tenant, external_id="n1", display_name="N", team_external_id="t")
    badge = make_badge(tenant, "steady", STREAK)
    d = days("2026-10-31", 3)
    # 23:30 local on the 25-hour day is already 04:30 UTC on 11-02: still 11-01 locally
    late_evening = datetime(2026, 11, 1, 23, 30, tzinfo=new_york)
    ingest(tenant, [adherence("n1", local(d[0], 12, tz=new_york), 3600, 3600)])
    close(tenant, d[0])
    ingest(tenant, [adherence("n1", late_evening, 3600, 3600)])
    close(tenant, d[1])
    ingest(tenant, [adherence("n1", local(d[2], 12, tz=new_york), 3600, 3600)])
    close(tenant, d[2])
    assert awards(badge, agent) == [""]


def test_a_repeatable_streak_is_awarded_at_multiples_of_its_length(tenant, agent):
    badge = make_badge(tenant, "steady", {**STREAK, "length": 2}, repeatable=True)
    d = days("2026-11-10", 5)
    for day in d:
        work(tenant, "a1", day)
    # runs 1, 2, 3, 4, 5 → awarded at 2 and 4
    assert awards(badge, agent) == [d[1].isoformat(), d[3].isoformat()]


def test_a_long_repeatable_streak_stays_at_multiples_of_its_length(tenant, agent):
    badge = make_badge(tenant, "steady", {**STREAK, "length": 2}, repeatable=True)
    d = days("2026-11-01", 21)
    for day in d:
        work(tenant, "a1", day)
    # runs 1 … 21 → multiples of 2: days 2, 4, …, 20 (10 awards); run 21 is odd: no award
    assert awards(badge, agent) == [d[n].isoformat() for n in range(1, 21, 2)]


def test_streak_of_weeks(tenant, agent):
    badge = make_badge(
        tenant, "good-weeks", {**STREAK, "period": "week", "length": 2, "min_volume": 0}
    )
    mondays = [date(2026, 11, 2), date(2026, 11, 9)]
    for monday in mondays:
        ingest(tenant, [adherence("a1", local(monday + timedelta(days=2), 12), 3600, 3500)])
        period_finalize(tenant=tenant, kind="week", start=monday)
    assert awards(badge, agent) == [""]  # 97.2 % ≥ 95 in two consecutive weeks


# --- coins, duplicates ----------------------------------------------------------------------
def test_badge_coins_show_in_the_wallet(api, tenant, agent):
    pytest.importorskip("gamify.wallet")
    make_badge(tenant, "three", {"kind": "count", "kpi": "contacts_handled", "count": 3}, coins=30)
    make_badge(tenant, "steady", STREAK, coins=12)
    for day in days("2026-11-10", 3):
        ingest(tenant, [call("a1", local(day, 9))])
        work(tenant, "a1", day)
    # 30 (count badge, at the third contact) + 12 (streak, at the third day) = 42
    wallet = api.get("/api/v1/agents/a1/wallet").json()
    assert wallet["balance"] == 42
    assert sorted(t["amount"] for t in wallet["transactions"]) == [12, 30]
    assert api.get("/api/v1/agents/a1/profile").json()["wallet"] == {"balance": 42}
    badges = api.get("/api/v1/agents/a1/badges").json()["results"]
    assert {b["code"]: b["coins"] for b in badges} == {"three": 30, "steady": 12}


def test_awards_are_never_duplicated_by_retries(api, tenant, agent):
    three = make_badge(
        tenant,
        "three",
        {"kind": "count", "kpi": "contacts_handled", "count": 3, "period": "day"},
        repeatable=True,
        coins=5,
    )
    fifty = make_badge(tenant, "fifty", {"kind": "points", "points": 50}, coins=5)
    delight = make_badge(tenant, "delight", CRITERIA["kpi_threshold"], coins=5)
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=20)
    ingest(
        tenant,
        [call("a1", local(D, 9, m)) for m in range(3)]
        + [survey("a1", local(D, 10 + n), 5) for n in range(3)],
    )
    period_finalize(tenant=tenant, kind="day", start=date.fromisoformat(D))

    def state():
        return (
            sorted(BadgeAward.objects.values_list("badge__code", "period_key")),
            Activity.objects.count(),
            api.get("/api/v1/agents/a1/profile").json()["wallet"]["balance"],
        )

    before = state()
    assert before[0] == [("delight", ""), ("fifty", ""), ("three", D)]
    for _ in range(2):
        batches_apply(tenant_id=tenant.pk)
        game_recompute(tenant=tenant, agent_days=None)
        game_recompute(tenant=tenant, agent_days={agent.pk: {date.fromisoformat(D)}})
        services.game_rebuild(tenant=tenant)
        period_finalize(tenant=tenant, kind="day", start=date.fromisoformat(D))
    assert state() == before
    assert {three.pk, fifty.pk, delight.pk} == set(
        BadgeAward.objects.values_list("badge", flat=True)
    )


# --- feeds ----------------------------------------------------------------------------------
def test_agent_badges_latest_first(api, tenant, agent):
    make_badge(tenant, "one", {"kind": "count", "kpi": "contacts_handled", "count": 1})
    make_badge(tenant, "two", {"kind": "count", "kpi": "contacts_handled", "count": 2})
    make_badge(tenant, "three", {"kind": "count", "kpi": "contacts_handled", "count": 3})
    for n, when in enumerate(
        ["2026-11-10T09:00:00+08:00", "2026-11-11T09:00:00+08:00", "2026-11-12T09:00:00+08:00"]
    ):
        with time_machine.travel(datetime.fromisoformat(when), tick=False):
            ingest(tenant, [call("a1", local(days(D, 3)[n], 8))])
    results = api.get("/api/v1/agents/a1/badges").json()["results"]
    assert [b["code"] for b in results] == ["three", "two", "one"]
    assert results[0]["awarded_at"].startswith("2026-11-12")
    profile = api.get("/api/v1/agents/a1/profile").json()["badges"]
    assert [b["code"] for b in profile] == ["three", "two", "one"]
    page = api.get("/api/v1/agents/a1/badges", {"limit": 2}).json()
    assert [b["code"] for b in page["results"]] == ["three", "two"]
    assert page["next"]
    rest = api.get(page["next"]).json()
    assert [b["code"] for b in rest["results"]] == ["one"]


def test_activity_filters_and_order(api, tenant):
    team_upsert(tenant=tenant, external_id="t1", name="Tier 1", parent_external_id=None)
    team_upsert(tenant=tenant, external_id="t1s", name="Tier 1 sub", parent_external_id="t1")
    team_upsert(tenant=tenant, external_id="t2", name="Tier 2", parent_external_id=None)
    for ext, team in (("a1", "t1"), ("a3", "t1s"), ("a2", "t2")):
        agent_upsert(tenant=tenant, external_id=ext, display_name=ext, team_external_id=team)
    services.levels_replace(tenant=tenant, levels=TABLE)
    make_badge(tenant, "one", {"kind": "count", "kpi": "contacts_handled", "count": 1})
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=60)
    for ext in ("a1", "a2", "a3"):
        ingest(tenant, [call(ext, local(D, 9))])  # 60 points → level 2, and badge "one"
    every = api.get("/api/v1/activity").json()["results"]
    ids = [a["id"] for a in every]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert {(a["type"], a["agent"]) for a in every} == {
        (t, ext) for t in ("level.up", "badge.awarded") for ext in ("a1", "a2", "a3")
    }
    mine = api.get("/api/v1/activity", {"agent": "a1"}).json()["results"]
    assert {a["agent"] for a in mine} == {"a1"}
    assert len(mine) == 2
    team = api.get("/api/v1/activity", {"team": "t1"}).json()["results"]
    assert {a["agent"] for a in team} == {"a1", "a3"}  # sub-teams included
    levels = api.get("/api/v1/activity", {"types": "level.up"}).json()["results"]
    assert {a["type"] for a in levels} == {"level.up"}
    assert len(levels) == 3
    both = api.get("/api/v1/activity", {"types": "level.up,badge.awarded", "agent": "a2"})
    assert len(both.json()["results"]) == 2
    badge = next(a for a in every if a["type"] == "badge.awarded" and a["agent"] == "a1")
    assert badge["data"]["badge"] == "one"
    assert "types" in problem(api.get("/api/v1/activity", {"types": "fun"}), 400)["errors"]
    problem(api.get("/api/v1/activity", {"agent": "nobody"}), 404)
    problem(api.get("/api/v1/activity", {"team": "nothing"}), 404)
    page = api.get("/api/v1/activity", {"limit": 4}).json()
    assert [a["id"] for a in page["results"]] == ids[:4]
    assert [a["id"] for a in api.get(page["next"]).json()["results"]] == ids[4:]
