"""Points of every rule kind, computed by hand on known events (DESIGN.md §5, API.md "Game
configuration"): per_unit (floor of fractional numerators, cap), target (>= and <=, minimum
volume, met then unmet inside an open period, frozen after finalization), scaled (linear,
capped, direction-aware), weekly rules, rule edits and removals, manual adjustments, and the
profile's day/week/month/lifetime totals.

The tenant is in Asia/Shanghai; 2026-11-10 is a Tuesday of the week 11-09 (Mon) … 11-15 (Sun).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.services import agent_upsert
from gamify.activity.models import Activity
from gamify.game import services
from gamify.game.finalization import period_finalize, periods_due, periods_finalize_due
from gamify.game.models import AgentDayPoints, PeriodClose, PointAdjustment, PointAward
from kpis.services.catalogue import kpi_create
from tests.game.support import (
    SHANGHAI,
    award,
    call,
    day_points,
    ingest,
    local,
    make_rule,
    metric,
    missed,
    post_events,
    survey,
)
from tests.helpers import problem

pytestmark = pytest.mark.django_db

D = "2026-11-10"
D_DATE = date(2026, 11, 10)
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)  # a Friday


@pytest.fixture
def a2(tenant, team):
    agent, _ = agent_upsert(
        tenant=tenant, external_id="a2", display_name="Bo Chen", team_external_id="t1"
    )
    return agent


def rule_body(**values):
    return {"name": "rule", "period": "day", **values}


# --- per_unit -------------------------------------------------------------------------------
def test_per_unit_counts_each_unit_of_the_numerator(tenant, agent):
    contacts = make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10)
    fcr = make_rule(tenant, kpi="fcr", kind="per_unit", points=5)
    ingest(
        tenant,
        [
            call("a1", local(D, 9), resolved_first_contact=True),
            call("a1", local(D, 10), resolved_first_contact=True),
            call("a1", local(D, 11), resolved_first_contact=False),
            missed("a1", local(D, 12)),  # offered but not answered: not a contact handled
        ],
    )
    # contacts_handled numerator = 3 answered → 3 × 10 = 30
    assert award(contacts, agent, D) == 30
    # fcr numerator = 2 resolved on first contact → 2 × 5 = 10
    assert award(fcr, agent, D) == 10
    # the day's points: 30 + 10 = 40, counted on the day itself
    assert day_points(agent) == {D: 40}


def test_per_unit_floors_a_fractional_numerator(tenant, agent):
    kpi_create(
        tenant=tenant,
        code="sales",
        name="Sales",
        unit="count",
        direction="higher_is_better",
        aggregation="sum",
        min_volume=Decimal(0),
    )
    rule = make_rule(tenant, kpi="sales", kind="per_unit", points=3)
    ingest(
        tenant, [metric("a1", local(D, 9), "sales", 1.5), metric("a1", local(D, 10), "sales", 1.25)]
    )
    # Σ value = 1.5 + 1.25 = 2.75 units → 3 × 2.75 = 8.25 → floor → 8
    assert award(rule, agent, D) == 8


def test_rule_on_custom_kpi_created_after_the_events_counts_them(tenant, agent):
    kpi_create(
        tenant=tenant,
        code="sales",
        name="Sales",
        unit="count",
        direction="higher_is_better",
        aggregation="sum",
        min_volume=Decimal(0),
    )
    ingest(tenant, [metric("a1", local(D, 9), "sales", 4)])
    rule = make_rule(tenant, kpi="sales", kind="per_unit", points=2)  # recomputes open periods
    # 4 sales × 2 = 8
    assert award(rule, agent, D) == 8


def test_per_unit_cap_per_period(tenant, agent):
    rule = make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10, cap=25)
    ingest(tenant, [call("a1", local(D, h)) for h in (9, 10, 11)])
    # 3 × 10 = 30, capped at 25
    assert award(rule, agent, D) == 25
    ingest(tenant, [call("a1", local("2026-11-11", 9))])
    # the next day has its own cap: 1 × 10 = 10 (< 25)
    assert award(rule, agent, "2026-11-11") == 10
    assert day_points(agent) == {D: 25, "2026-11-11": 10}


# --- target ---------------------------------------------------------------------------------
def test_target_ge_with_min_volume(tenant, agent, a2):
    rule = make_rule(
        tenant, kpi="csat", kind="target", op=">=", threshold=80, min_volume=5, points=25
    )
    ingest(
        tenant,
        # a1: 5 responses, top-2-box (4 or 5) = 4 → 4/5 = 80 % ≥ 80 over 5 ≥ 5 → 25
        [survey("a1", local(D, 9 + n), c) for n, c in enumerate([4, 5, 5, 4, 3])]
        # a2: 4 responses all 5 → 100 % but volume 4 < 5 → 0 (no row)
        + [survey("a2", local(D, 9 + n), 5) for n in range(4)],
    )
    assert award(rule, agent, D) == 25
    assert award(rule, a2, D) is None
    assert day_points(a2) == {}


def test_target_le_for_a_lower_is_better_kpi(tenant, agent, a2):
    rule = make_rule(
        tenant, kpi="aht", kind="target", op="<=", threshold=300, min_volume=2, points=15
    )
    ingest(
        tenant,
        [
            # a1: AHT = (200 + (250 + 30 hold + 20 acw)) / 2 = (200 + 300) / 2 = 250 ≤ 300 → 15
            call("a1", local(D, 9), talk=200),
            call("a1", local(D, 10), talk=250, hold_seconds=30, acw_seconds=20),
            # a2: AHT = (300 + 302) / 2 = 301 > 300 → 0
            call("a2", local(D, 9), talk=300),
            call("a2", local(D, 10), talk=302),
        ],
    )
    assert award(rule, agent, D) == 15
    assert award(rule, a2, D) is None


def test_target_op_defaults_to_the_kpi_direction(api, tenant):
    body = rule_body(kpi="aht", kind="target", threshold=300, points=5)
    response = api.post("/api/v1/point-rules", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["op"] == "<="  # AHT is lower-is-better


def test_target_met_then_unmet_by_a_late_event_in_an_open_period(api, commit, tenant, agent):
    response = commit(
        lambda: api.post(
            "/api/v1/point-rules",
            rule_body(kpi="csat", kind="target", op=">=", threshold=80, min_volume=5, points=25),
            format="json",
        )
    )
    rule_id = response.json()["id"]
    # 4 of 5 top-box = 80 % ≥ 80 → 25
    post_events(
        api, commit, [survey("a1", local(D, 9 + n), c) for n, c in enumerate([4, 5, 5, 4, 3])]
    )
    assert PointAward.objects.get(rule_id=rule_id, agent=agent).points == 25
    assert day_points(agent) == {D: 25}
    # A late survey (csat 1) the same day: 4 of 6 = 66.67 % < 80 → the award goes.
    post_events(api, commit, [survey("a1", local(D, 18), 1)])
    assert not PointAward.objects.filter(rule_id=rule_id, agent=agent).exists()
    assert day_points(agent) == {}
    kpis = api.get("/api/v1/agents/a1/kpis", {"period": "day", "date": D}).json()
    assert kpis["kpis"]["csat"]["value"] == 66.67
    assert not Activity.objects.filter(type="points.late_adjustment").exists()


def test_after_finalization_a_late_event_changes_kpis_but_not_the_frozen_award(
    api, commit, tenant, agent
):
    rule = make_rule(
        tenant, kpi="csat", kind="target", op=">=", threshold=80, min_volume=5, points=25
    )
    ingest(tenant, [survey("a1", local(D, 9 + n), c) for n, c in enumerate([4, 5, 5, 4, 3])])
    assert award(rule, agent, D) == 25
    assert period_finalize(tenant=tenant, kind="day", start=D_DATE).startswith("finalized")
    assert PointAward.objects.get(rule=rule, agent=agent).finalized
    # The late survey makes it 4/6 = 66.67 %: the target is no longer met …
    post_events(api, commit, [survey("a1", local(D, 18), 1)])
    kpis = api.get("/api/v1/agents/a1/kpis", {"period": "day", "date": D}).json()
    assert kpis["kpis"]["csat"]["value"] == 66.67
    # … but the finalized award is frozen at 25, and the day's points with it …
    assert award(rule, agent, D) == 25
    assert day_points(agent) == {D: 25}
    # … and the feed says what a recompute would have given, once.
    late = Activity.objects.filter(type="points.late_adjustment")
    assert late.count() == 1
    data = late.get().data
    assert data["rule"] == rule.pk
    assert data["period_start"] == D
    assert (data["frozen_points"], data["recomputed_points"]) == (25, 0)
    feed = api.get("/api/v1/activity", {"types": "points.late_adjustment"}).json()["results"]
    assert [(a["type"], a["agent"]) for a in feed] == [("points.late_adjustment", "a1")]
    # a rebuild keeps the frozen award too
    services.game_rebuild(tenant=tenant)
    assert award(rule, agent, D) == 25
    assert day_points(agent) == {D: 25}


def test_finalization_waits_for_the_grace_window(tenant, agent):
    rule = make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=1)
    with time_machine.travel(local(D, 12), tick=False):
        ingest(tenant, [call("a1", local(D, 9))])
    # The day ends at 11-11 00:00 local; the default grace is 120 minutes.
    with time_machine.travel(local("2026-11-11", 1, 59), tick=False):
        assert ("day", D_DATE) not in list(periods_due(tenant=tenant))
        periods_finalize_due(tenant=tenant)
        assert not PeriodClose.objects.filter(period="day", start=D_DATE).exists()
    with time_machine.travel(local("2026-11-11", 2, 0), tick=False):
        assert ("day", D_DATE) in list(periods_due(tenant=tenant))
        periods_finalize_due(tenant=tenant)
        assert PeriodClose.objects.filter(period="day", start=D_DATE).count() == 1
        assert PointAward.objects.get(rule=rule).finalized
        periods_finalize_due(tenant=tenant)  # nothing more, nothing twice
        assert PeriodClose.objects.filter(period="day", start=D_DATE).count() == 1
    assert period_finalize(tenant=tenant, kind="day", start=D_DATE) == "already finalized"


# --- scaled ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("talk", "expected"),
    [
        (360, 20),  # (360 − 420) / (300 − 420) = 0.5 → 0.5 × 40 = 20
        (330, 30),  # (330 − 420) / (−120) = 0.75 → 30
        (400, 7),  # 20 / 120 = 0.1667 → 6.67 → rounds to 7
        (300, 40),  # at upper: all 40
        (250, 40),  # better than upper: capped at 40
        (420, None),  # at lower: 0 points, no row
        (500, None),  # worse than lower: 0
    ],
)
def test_scaled_lower_is_better_aht(tenant, agent, talk, expected):
    # "up to 40 points a day as AHT goes from 420 s down to 300 s"
    rule = make_rule(tenant, kpi="aht", kind="scaled", lower=420, upper=300, points=40)
    ingest(tenant, [call("a1", local(D, 9), talk=talk), call("a1", local(D, 10), talk=talk)])
    assert award(rule, agent, D) == expected


def test_scaled_higher_is_better_with_min_volume_and_cap(tenant, agent, a2):
    rule = make_rule(
        tenant, kpi="csat", kind="scaled", lower=60, upper=100, points=50, min_volume=5, cap=20
    )
    ingest(
        tenant,
        # a1: 4 of 5 top-box = 80 % → (80 − 60) / 40 = 0.5 → 25, capped at 20
        [survey("a1", local(D, 9 + n), c) for n, c in enumerate([5, 5, 4, 4, 1])]
        # a2: 4 responses (< min volume 5) → 0
        + [survey("a2", local(D, 9 + n), 5) for n in range(4)],
    )
    assert award(rule, agent, D) == 20
    assert award(rule, a2, D) is None


def test_scaled_linear_without_cap(tenant, agent):
    rule = make_rule(tenant, kpi="csat", kind="scaled", lower=60, upper=100, points=50)
    ingest(tenant, [survey("a1", local(D, 9 + n), c) for n, c in enumerate([5, 5, 5, 1])])
    # 3 of 4 = 75 % → (75 − 60) / 40 = 0.375 → 18.75 → 19
    assert award(rule, agent, D) == 19


# --- weekly rule ----------------------------------------------------------------------------
def test_weekly_target_counts_on_the_last_day_of_the_week(tenant, agent, a2):
    target = make_rule(
        tenant,
        kpi="contacts_handled",
        kind="target",
        op=">=",
        threshold=10,
        points=50,
        period="week",
    )
    per_unit = make_rule(
        tenant, kpi="contacts_handled", kind="per_unit", points=2, cap=15, period="week"
    )
    monday, wednesday, sunday = "2026-11-09", "2026-11-11", "2026-11-15"
    events = (
        [call("a1", local(monday, 9, m)) for m in range(4)]
        + [call("a1", local(wednesday, 9, m)) for m in range(3)]
        + [call("a1", local(sunday, 9, m)) for m in range(3)]
        + [call("a2", local(monday, 9, m)) for m in range(9)]
    )
    ingest(tenant, events)
    # a1: 4 + 3 + 3 = 10 contacts in the week ≥ 10 → 50; per unit 10 × 2 = 20 → cap 15
    assert award(target, agent, monday) == 50
    assert award(per_unit, agent, monday) == 15
    # a2: 9 < 10 → no target; per unit 9 × 2 = 18 → cap 15
    assert award(target, a2, monday) is None
    assert award(per_unit, a2, monday) == 15
    # Weekly points count on the week's last day (Sunday 11-15): 50 + 15 = 65
    assert day_points(agent) == {sunday: 65}
    assert day_points(a2) == {sunday: 15}
    # The next week starts from scratch.
    ingest(tenant, [call("a1", local("2026-11-16", 9))])
    assert award(per_unit, agent, "2026-11-16") == 2
    assert award(target, agent, "2026-11-16") is None


# --- rule changes ---------------------------------------------------------------------------
def create_over_api(api, commit, **values):
    response = commit(lambda: api.post("/api/v1/point-rules", rule_body(**values), format="json"))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def patch(api, commit, rule_id, changes):
    response = commit(lambda: api.patch(f"/api/v1/point-rules/{rule_id}", changes, format="json"))
    assert response.status_code == 200, response.content
    return response.json()


def test_rule_created_after_events_counts_them(api, commit, tenant, agent):
    post_events(api, commit, [call("a1", local(D, h)) for h in (9, 10)])
    rule_id = create_over_api(api, commit, kpi="contacts_handled", kind="per_unit", points=10)
    # 2 × 10 = 20, from events that arrived before the rule
    assert PointAward.objects.get(rule_id=rule_id, agent=agent).points == 20


def test_rule_edit_recomputes_open_periods(api, commit, tenant, agent):
    rule_id = create_over_api(api, commit, kpi="contacts_handled", kind="per_unit", points=10)
    post_events(api, commit, [call("a1", local(D, h)) for h in (9, 10, 11)])
    assert day_points(agent) == {D: 30}  # 3 × 10
    patch(api, commit, rule_id, {"points": 4})
    assert day_points(agent) == {D: 12}  # 3 × 4
    patch(api, commit, rule_id, {"cap": 10})
    assert day_points(agent) == {D: 10}  # min(12, 10)
    # Turning it into a target of ≥ 3 contacts worth 7 points
    body = patch(api, commit, rule_id, {"kind": "target", "threshold": 3, "op": ">=", "points": 7})
    assert body["kind"] == "target"
    assert day_points(agent) == {D: 7}
    patch(api, commit, rule_id, {"threshold": 4})  # 3 < 4 → nothing
    assert day_points(agent) == {}


def test_rule_edit_leaves_finalized_periods_alone(api, commit, tenant, agent):
    rule_id = create_over_api(api, commit, kpi="contacts_handled", kind="per_unit", points=10)
    post_events(api, commit, [call("a1", local(D, 9)), call("a1", local("2026-11-11", 9))])
    period_finalize(tenant=tenant, kind="day", start=D_DATE)
    patch(api, commit, rule_id, {"points": 3})
    # 11-10 was frozen at 1 × 10; 11-11 is open → 1 × 3
    assert day_points(agent) == {D: 10, "2026-11-11": 3}


def test_deactivating_and_reactivating_a_rule(api, commit, tenant, agent):
    rule_id = create_over_api(api, commit, kpi="contacts_handled", kind="per_unit", points=10)
    post_events(api, commit, [call("a1", local(D, h)) for h in (9, 10)])
    assert day_points(agent) == {D: 20}
    body = patch(api, commit, rule_id, {"active": False})
    assert body["active"] is False
    assert not PointAward.objects.filter(rule_id=rule_id).exists()
    assert day_points(agent) == {}
    assert api.get("/api/v1/agents/a1/profile").json()["points"]["lifetime"] == 0
    patch(api, commit, rule_id, {"active": True})
    assert day_points(agent) == {D: 20}


def test_delete_removes_open_period_points_but_keeps_finalized_ones(api, commit, tenant, agent):
    rule_id = create_over_api(api, commit, kpi="contacts_handled", kind="per_unit", points=10)
    post_events(api, commit, [call("a1", local(D, 9)), call("a1", local("2026-11-11", 9))])
    period_finalize(tenant=tenant, kind="day", start=D_DATE)
    response = commit(lambda: api.delete(f"/api/v1/point-rules/{rule_id}"))
    assert response.status_code == 204
    # the open day lost its 10 points, the finalized day keeps its 10
    assert day_points(agent) == {D: 10}
    assert list(PointAward.objects.values_list("period_start", "finalized")) == [(D_DATE, True)]
    problem(api.get(f"/api/v1/point-rules/{rule_id}"), 404)
    assert rule_id not in [r["id"] for r in api.get("/api/v1/point-rules").json()["results"]]
    # later events do not bring it back
    post_events(api, commit, [call("a1", local("2026-11-12", 9))])
    assert day_points(agent) == {D: 10}


# --- manual adjustments ---------------------------------------------------------------------
def adjust(api, key, points, reason="Helped the night shift"):
    return api.post(
        "/api/v1/agents/a1/points/adjustments",
        {"points": points, "reason": reason},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_adjustments_are_signed_idempotent_and_counted_everywhere(api, commit, tenant, agent):
    with time_machine.travel(NOW, tick=False):
        make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=1)
        ingest(tenant, [call("a1", local("2026-11-20", 9))])  # 1 point today
        first = adjust(api, "adj-1", 100)
        assert first.status_code == 201, first.content
        body = first.json()
        assert (body["agent"], body["points"], body["day"]) == ("a1", 100, "2026-11-20")
        # A replay answers the same, and records nothing more.
        replay = adjust(api, "adj-1", 100)
        assert replay.status_code == 201
        assert replay.json() == body
        assert replay["Idempotent-Replayed"] == "true"
        # The same key with another body is a conflict.
        problem(adjust(api, "adj-1", 50), 409)
        negative = adjust(api, "adj-2", -30, reason="Gaming the queue")
        assert negative.status_code == 201
        assert PointAdjustment.objects.filter(agent=agent).count() == 2
        # 1 (rule) + 100 − 30 = 71 in every total
        points = api.get("/api/v1/agents/a1/profile").json()["points"]
        assert points == {"lifetime": 71, "day": 71, "week": 71, "month": 71}
        assert day_points(agent) == {"2026-11-20": 71}
        # The feed records each adjustment once.
        feed = api.get("/api/v1/activity", {"types": "points.adjusted"}).json()["results"]
        assert [a["data"]["points"] for a in feed] == [-30, 100]
        # A rebuild recomputes the awards and keeps the ledger of adjustments.
        services.game_rebuild(tenant=tenant)
        assert api.get("/api/v1/agents/a1/profile").json()["points"] == points
        assert day_points(agent) == {"2026-11-20": 71}


def test_an_adjustment_alone_makes_the_day_points(api, tenant, agent):
    with time_machine.travel(NOW, tick=False):
        assert adjust(api, "k", -5).status_code == 201
        # no rules at all: the adjustment is the whole total, negative included
        assert day_points(agent) == {"2026-11-20": -5}
        services.game_rebuild(tenant=tenant)
        assert day_points(agent) == {"2026-11-20": -5}
        assert api.get("/api/v1/agents/a1/profile").json()["points"]["lifetime"] == -5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 0, "reason": "x"}, "points"),
        ({"points": "5", "reason": "x"}, "points"),
        ({"points": 1.5, "reason": "x"}, "points"),
        ({"points": 5}, "reason"),
        ({"points": 5, "reason": "   "}, "reason"),
        ({"points": 5, "reason": "x", "extra": 1}, "extra"),
    ],
)
def test_bad_adjustments(api, agent, body, field):
    response = api.post(
        "/api/v1/agents/a1/points/adjustments", body, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert field in problem(response, 400)["errors"]
    assert not PointAdjustment.objects.exists()


def test_adjustment_needs_manage_scope_and_a_known_agent(api, make_client, tenant, agent):
    reader = make_client(tenant, ("read",))
    problem(
        reader.post(
            "/api/v1/agents/a1/points/adjustments", {"points": 5, "reason": "x"}, format="json"
        ),
        403,
    )
    problem(
        api.post(
            "/api/v1/agents/nobody/points/adjustments", {"points": 5, "reason": "x"}, format="json"
        ),
        404,
    )


# --- the profile's totals -------------------------------------------------------------------
def test_profile_points_by_hand(api, tenant, agent):
    with time_machine.travel(NOW, tick=False):
        make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=1)
        make_rule(
            tenant,
            kpi="contacts_handled",
            kind="target",
            op=">=",
            threshold=3,
            points=10,
            period="week",
        )
        ingest(
            tenant,
            [call("a1", local("2026-11-20", 9, m)) for m in range(2)]  # today (Fri)
            + [call("a1", local("2026-11-17", 9, m)) for m in range(3)]  # Tue, this week
            + [call("a1", local("2026-11-03", 9, m)) for m in range(4)]  # this month
            + [call("a1", local("2026-10-15", 9, m)) for m in range(6)],  # last month
        )
        assert adjust(api, "bonus", 100).status_code == 201
        body = api.get("/api/v1/agents/a1/profile").json()
    # per unit: day 2, week 2 + 3 = 5, month 5 + 4 = 9, lifetime 9 + 6 = 15.
    # weekly target (≥ 3 contacts, 10 points, counted on the week's Sunday):
    #   week of 11-16 has 5 → 10 on 11-22 (this week and month, not today);
    #   week of 11-02 has 4 → 10 on 11-08 (this month); week of 10-12 has 6 → 10 on 10-18.
    # adjustment +100 today.
    # day = 2 + 100 = 102; week = 5 + 10 + 100 = 115; month = 9 + 20 + 100 = 129;
    # lifetime = 15 + 30 + 100 = 145
    assert body["points"] == {"day": 102, "week": 115, "month": 129, "lifetime": 145}
    assert body["agent"] == "a1"
    assert body["display_name"] == "Ann Lee"
    assert body["team"] == "t1"
    assert body["ranks"]["points_day"] == 1


def test_profile_of_an_agent_without_points(api, agent):
    body = api.get("/api/v1/agents/a1/profile").json()
    assert body["points"] == {"lifetime": 0, "day": 0, "week": 0, "month": 0}
    assert body["ranks"] == {"points_day": None, "points_week": None, "points_month": None}
    assert body["badges"] == []
    assert body["contests"] == []
    assert body["wallet"] == {"balance": 0}
    assert body["level"]["number"] == 1
    assert body["level"]["points_to_next"] is None  # the default table has one level


def test_points_in_the_tenant_timezone(tenant, agent):
    """An event at 23:30 UTC on 11-09 is 07:30 on 11-10 in Shanghai: it counts on 11-10."""
    rule = make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=1)
    ingest(tenant, [call("a1", "2026-11-09T23:30:00Z")])
    assert award(rule, agent, D) == 1
    assert list(AgentDayPoints.objects.values_list("day", flat=True)) == [D_DATE]
    assert D_DATE - timedelta(days=1) not in AgentDayPoints.objects.values_list("day", flat=True)


def test_changing_a_rules_period_moves_its_points(api, commit, tenant, agent):
    rule_id = create_over_api(api, commit, kpi="contacts_handled", kind="per_unit", points=1)
    post_events(api, commit, [call("a1", local(D, 9)), call("a1", local("2026-11-12", 9))])
    assert day_points(agent) == {D: 1, "2026-11-12": 1}
    patch(api, commit, rule_id, {"period": "week"})
    # one weekly award of 2, counted on Sunday 11-15; the daily ones are gone
    assert day_points(agent) == {"2026-11-15": 2}
    assert list(PointAward.objects.values_list("period_start", "points")) == [
        (date(2026, 11, 9), 2)
    ]


def test_a_closed_day_does_not_freeze_its_open_week(tenant, agent):
    rule = make_rule(
        tenant,
        kpi="contacts_handled",
        kind="target",
        op=">=",
        threshold=2,
        points=20,
        period="week",
    )
    ingest(tenant, [call("a1", local(D, 9))])
    period_finalize(tenant=tenant, kind="day", start=D_DATE)
    # a late event on the closed day still counts for the week, which is open: 2 ≥ 2 → 20
    ingest(tenant, [call("a1", local(D, 18))])
    assert award(rule, agent, "2026-11-09") == 20
    assert not PointAward.objects.get(rule=rule).finalized
    assert not Activity.objects.filter(type="points.late_adjustment").exists()
    period_finalize(tenant=tenant, kind="week", start=date(2026, 11, 9))
    assert PointAward.objects.get(rule=rule).finalized
    ingest(tenant, [survey("a1", local(D, 19), 5)])  # touches the week: nothing changes
    assert award(rule, agent, "2026-11-09") == 20


def test_an_adjustment_counts_on_the_tenants_today(api, agent):
    # 17:30 UTC on 11-20 is 01:30 on 11-21 in Shanghai
    with time_machine.travel(datetime.fromisoformat("2026-11-20T17:30:00+00:00"), tick=False):
        response = adjust(api, "late-night", 8)
    assert response.json()["day"] == "2026-11-21"
    assert day_points(agent) == {"2026-11-21": 8}
