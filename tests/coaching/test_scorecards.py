"""Scorecards computed by hand on the fixed week of tests/coaching/conftest.py."""

from __future__ import annotations

from typing import Any

import pytest

from gamify.coaching.services import coaching_settings_update, goal_create
from tests.coaching.conftest import put
from tests.game.support import call, ingest, local, make_rule
from tests.helpers import problem

pytestmark = pytest.mark.django_db
WEEK = {"period": "week", "date": "2026-11-18"}


def card(api, path, **params) -> dict[str, Any]:
    response = api.get(f"/api/v1/{path}/scorecard", params or WEEK)
    assert response.status_code == 200, response.content
    return response.json()


def by_code(items):
    return {item["code"]: item for item in items}


@pytest.fixture
def targets(tenant, floor):
    """Band 20 %; the tenant: AHT ≤ 150 every week; a2's own: AHT ≤ 250 every week."""
    coaching_settings_update(
        tenant=tenant,
        changes={
            "scorecard_kpis": ["aht", "fcr", "contacts_handled", "turnover"],
            "close_band_percent": 20,
        },
    )
    from accounts.models import Agent

    goal_create(tenant=tenant, values={"kpi": "aht", "op": "<=", "target": 150, "period": "week"})
    a2 = Agent.objects.get(tenant=tenant, external_id="a2")
    goal_create(
        tenant=tenant,
        values={"kpi": "aht", "op": "<=", "target": 250, "period": "week", "agent": a2},
    )


def test_agent_scorecard_by_hand(api, targets):
    body = card(api, "agents/a1")
    assert body["agent"] == "a1"
    assert body["team"] == "t1"
    assert body["period"]["start"] == "2026-11-16T00:00:00+08:00"
    kpis = by_code(body["kpis"])
    assert list(kpis) == ["aht", "fcr", "contacts_handled"]  # turnover: teams only
    aht = kpis["aht"]
    assert (aht["value"], aht["numerator"], aht["denominator"]) == (150.0, 300, 2)
    # team average = Σ handle / Σ answered over the team = (300 + 300 + 450) / 6 = 175,
    # not the mean of the agents' AHTs (150 + 300 + 150) / 3 = 200
    assert aht["team_average"] == 175.0
    # lower is better: a1 150, a2 300, a3 150 → a1 ties a3 and beats a2 → 2 / 2 = 100
    assert aht["team_percentile"] == 100.0
    # exactly on the tenant's target 150 → met; previous week 200 → trend −50
    assert (aht["target"], aht["op"], aht["status"]) == (150.0, "<=", "met")
    assert (aht["previous"], aht["trend"]) == (200.0, -50.0)
    fcr = kpis["fcr"]
    # team FCR = 3 resolved / 5 known = 60 % (the agents' mean would be 50 %)
    assert (fcr["value"], fcr["team_average"], fcr["team_percentile"]) == (100.0, 60.0, 100.0)
    assert (fcr["target"], fcr["status"], fcr["trend"]) == (None, None, 0.0)
    assert kpis["contacts_handled"]["value"] == 2


def test_percentiles_ties_and_status_bands(api, targets):
    a2 = by_code(card(api, "agents/a2")["kpis"])
    # a2's own goal AHT ≤ 250 wins over the tenant's; 300 = 250 + 20 % exactly → close
    assert (a2["aht"]["target"], a2["aht"]["status"]) == (250.0, "close")
    assert a2["aht"]["team_percentile"] == 0.0  # worst of three
    # no data the week before → no previous value, no trend
    assert (a2["aht"]["previous"], a2["aht"]["trend"]) == (None, None)
    a3 = by_code(card(api, "agents/a3")["kpis"])
    assert a3["aht"]["team_percentile"] == 100.0  # tied best with a1
    # FCR higher is better: a1 100, a3 50, a2 0 → a3 beats a2 only: 1 / 2 = 50
    assert a3["fcr"]["value"] == 50.0
    assert a3["fcr"]["team_percentile"] == 50.0
    assert a2["fcr"]["team_percentile"] == 0.0


def test_status_just_outside_the_band_is_missed(api, tenant, targets):
    from accounts.models import Agent
    from gamify.coaching.models import Goal

    # a2 at 300 against 249.99: the band ends at 299.988 → missed
    Goal.objects.filter(agent=Agent.objects.get(tenant=tenant, external_id="a2")).update(
        target="249.99"
    )
    assert by_code(card(api, "agents/a2")["kpis"])["aht"]["status"] == "missed"


def test_single_agent_is_the_100th_percentile(api, tenant, commit, floor):
    put(api, "teams/solo", {"name": "Solo"})
    put(api, "agents/b1", {"display_name": "Bea", "team": "solo"})
    ingest(tenant, [call("b1", local("2026-11-23", 9), talk=90)])
    kpis = by_code(card(api, "agents/b1", period="day", date="2026-11-23")["kpis"])
    assert kpis["aht"]["team_percentile"] == 100.0
    assert kpis["aht"]["team_average"] == 90.0
    # a KPI with no volume is not ranked
    assert kpis["fcr"]["value"] is None
    assert kpis["fcr"]["team_percentile"] is None


def test_team_scorecard_rows_sort_and_turnover(api, targets):
    body = card(api, "teams/t1", **WEEK, sort="aht")
    team = by_code(body["team"]["kpis"])
    assert team["aht"]["value"] == 175.0
    # the tenant's target 150 with a band of 20 % reaches 180: 175 is close
    assert (team["aht"]["target"], team["aht"]["status"]) == (150.0, "close")
    # turnover: a1-a4 at the start, a1-a3 at the end, a4 left → 100 × 1 / 3.5 = 28.57
    turnover = team["turnover"]
    assert (turnover["value"], turnover["numerator"], turnover["denominator"]) == (28.57, 1, 3.5)
    # the week before nobody left: trend +28.57
    assert (turnover["previous"], turnover["trend"]) == (0.0, 28.57)
    # active agents only, best AHT first (a1 and a3 tie at 150: by name), a2 last
    assert [row["agent"] for row in body["agents"]] == ["a1", "a3", "a2"]
    assert [row["agent"] for row in card(api, "teams/t1", **WEEK, sort="-aht")["agents"]] == [
        "a2",
        "a3",
        "a1",
    ]
    assert [r["agent"] for r in card(api, "teams/t1", **WEEK)["agents"]] == ["a1", "a2", "a3"]
    rows = {row["agent"]: by_code(row["kpis"]) for row in body["agents"]}
    assert rows["a2"]["aht"]["team_average"] == 175.0
    assert rows["a2"]["aht"]["status"] == "close"


def test_points_and_badges_of_the_period(api, tenant, floor):
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=2)
    body = card(api, "agents/a3")
    assert body["points"] == 6  # three contacts × 2 points
    assert card(api, "agents/a1")["points"] == 4
    # the week before counts only the week before
    assert card(api, "agents/a1", period="week", date="2026-11-10")["points"] == 2
    assert body["badges"] == []


def test_tenant_scorecard(api, targets):
    response = api.get("/api/v1/scorecard", WEEK)
    assert response.status_code == 200, response.content
    body = response.json()
    own = by_code(body["tenant"]["kpis"])
    assert own["aht"]["value"] == 175.0
    assert own["turnover"]["value"] == 28.57
    assert [t["external_id"] for t in body["teams"]] == ["t1"]


def test_bad_input_and_foreign_ids(api, outsider_api, floor):
    assert problem(api.get("/api/v1/teams/t1/scorecard", {"sort": "nope"}), 400)["errors"] == {
        "sort": [
            "Must be name, points or a scorecard KPI: fcr, aht, csat, qa_score, adherence, "
            "transfer_rate, contacts_handled."
        ]
    }
    assert (
        "period" in problem(api.get("/api/v1/agents/a1/scorecard", {"period": "x"}), 400)["errors"]
    )
    problem(outsider_api.get("/api/v1/agents/a1/scorecard"), 404)
    problem(outsider_api.get("/api/v1/teams/t1/scorecard"), 404)


def test_widget_token_sees_its_own_scorecard_only(api, floor):
    token = api.post("/api/v1/widget-tokens", {"agent": "a1"}, format="json").json()["token"]
    from rest_framework.test import APIClient

    widget = APIClient()
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert widget.get("/api/v1/agents/a1/scorecard", WEEK).status_code == 200
    problem(widget.get("/api/v1/agents/a2/scorecard", WEEK), 403)
    problem(widget.get("/api/v1/teams/t1/scorecard", WEEK), 403)


def test_200_agents_in_a_bounded_number_of_queries(
    api, tenant, floor, django_assert_max_num_queries
):
    from accounts.services import agent_upsert

    put(api, "teams/big", {"name": "Big"})
    events = []
    for n in range(200):
        agent_upsert(
            tenant=tenant, external_id=f"b{n}", display_name=f"B {n}", team_external_id="big"
        )
        events.append(call(f"b{n}", local("2026-11-17", 9), talk=100 + n))
    ingest(tenant, events)
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=1)
    with django_assert_max_num_queries(30):
        body = card(api, "teams/big", **WEEK, sort="aht")
    assert len(body["agents"]) == 200
    assert body["agents"][0]["agent"] == "b0"
    assert body["agents"][0]["points"] == 1
    assert by_code(body["agents"][0]["kpis"])["aht"]["team_percentile"] == 100.0
    with django_assert_max_num_queries(30):
        assert by_code(card(api, "agents/b7")["kpis"])["aht"]["value"] == 107.0


def test_the_tenant_row_counts_the_events_of_agents_without_a_team(api, tenant, targets):
    """z1 has no team. Week of Nov 16: two calls of 400 s and 250 s of its own, and one of 50 s
    it attributes to t1 (the event names the team). The floor's t1 calls: 100 + 200 + 300 +
    3 × 150 = 1050 s over 6.

    t1:     (1050 + 50) / 7                   → AHT 157.14, 7 contacts
    tenant: (1050 + 50 + 400 + 250) / 9       → AHT 194.44, 9 contacts (the 50 s call once)
    The week before, z1's call of 600 s: the tenant's previous AHT (200 + 600) / 2 = 400."""
    put(api, "agents/z1", {"display_name": "Zed", "team": None})
    ingest(
        tenant,
        [
            call("z1", local("2026-11-17", 11), talk=400),
            call("z1", local("2026-11-18", 11), talk=250),
            call("z1", local("2026-11-19", 11), talk=50, team="t1"),
            call("z1", local("2026-11-11", 11), talk=600),
        ],
    )
    response = api.get("/api/v1/scorecard", WEEK)
    assert response.status_code == 200, response.content
    body = response.json()
    own = by_code(body["tenant"]["kpis"])
    assert own["aht"]["value"] == 194.44
    assert own["aht"]["numerator"] == 1750.0
    assert own["contacts_handled"]["value"] == 9
    assert own["aht"]["previous"] == 400.0
    [t1] = body["teams"]
    assert by_code(t1["kpis"])["aht"]["value"] == 157.14
    assert by_code(t1["kpis"])["contacts_handled"]["value"] == 7
    # z1's own card has all three of its calls of the week: (400 + 250 + 50) / 3
    assert by_code(card(api, "agents/z1")["kpis"])["aht"]["value"] == 233.33
