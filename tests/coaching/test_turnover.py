"""Turnover on team and tenant scorecards, by hand: an agent who leaves and comes back, a
move between teams (counted as leaving only when the tenant says so), a period with nobody."""

from __future__ import annotations

import pytest
import time_machine

from gamify.coaching.services import coaching_settings_update
from tests.coaching.conftest import put
from tests.game.support import local

pytestmark = pytest.mark.django_db
WEEK = {"period": "week", "date": "2026-11-18"}


@pytest.fixture
def moves(api, now):
    """Teams A and B. x1, x2, x3 join A on Nov 1. Week of Mon Nov 16:
    x3 leaves on Tue 17 and comes back on Thu 19; x1 moves to B on Wed 18."""
    with time_machine.travel(local("2026-11-01", 9), tick=False):
        put(api, "teams/A", {"name": "A"})
        put(api, "teams/B", {"name": "B"})
        for ext in ("x1", "x2", "x3"):
            put(api, f"agents/{ext}", {"display_name": ext, "team": "A"})
    with time_machine.travel(local("2026-11-17", 9), tick=False):
        assert api.delete("/api/v1/agents/x3").status_code == 204
    with time_machine.travel(local("2026-11-18", 9), tick=False):
        put(api, "agents/x1", {"display_name": "x1", "team": "B"})
    with time_machine.travel(local("2026-11-19", 9), tick=False):
        put(api, "agents/x3", {"display_name": "x3", "team": "A", "active": True})


def turnover(api, path, params=WEEK):
    response = api.get(f"/api/v1/{path}", params)
    assert response.status_code == 200, response.content
    body = response.json()
    row = body["team"] if "team" in body else body["tenant"]
    item = next(i for i in row["kpis"] if i["code"] == "turnover")
    return item["value"], item["numerator"], item["denominator"]


def test_leaving_and_coming_back(api, moves):
    # A: x1, x2, x3 at the start; x2, x3 (back) at the end; x3's departure counts once
    # → 100 × 1 / ((3 + 2) / 2) = 40
    assert turnover(api, "teams/A/scorecard") == (40.0, 1, 2.5)
    # B: nobody at the start, x1 at the end, nobody left → 0 / 0.5
    assert turnover(api, "teams/B/scorecard") == (0.0, 0, 0.5)
    # the tenant: 3 and 3, x3 left once (a move never leaves the tenant) → 33.33
    assert turnover(api, "scorecard") == (33.33, 1, 3)


def test_a_move_counts_as_leaving_when_the_tenant_says_so(api, tenant, moves):
    coaching_settings_update(tenant=tenant, changes={"move_counts_as_leaving": True})
    # A: x3's departure and x1's move → 100 × 2 / 2.5 = 80
    assert turnover(api, "teams/A/scorecard") == (80.0, 2, 2.5)
    assert turnover(api, "teams/B/scorecard") == (0.0, 0, 0.5)
    assert turnover(api, "scorecard") == (33.33, 1, 3)
    # the trend compares with the week before, when nobody left A: +80
    body = api.get("/api/v1/teams/A/scorecard", WEEK).json()
    item = next(i for i in body["team"]["kpis"] if i["code"] == "turnover")
    assert (item["previous"], item["trend"]) == (0.0, 80.0)
    # the setting is the scorecard's: the team KPI query keeps counting departures only
    kpis = api.get("/api/v1/teams/A/kpis", WEEK).json()["kpis"]
    assert kpis["turnover"]["value"] == 40.0


def test_a_period_with_no_agents(api, moves):
    before = {"period": "month", "date": "2026-10-10"}
    assert turnover(api, "teams/A/scorecard", before) == (None, 0, 0)
    body = api.get("/api/v1/teams/A/scorecard", before).json()
    item = next(i for i in body["team"]["kpis"] if i["code"] == "turnover")
    assert (item["status"], item["trend"]) == (None, None)
    assert body["agents"] != []  # today's active agents are the rows, with no figures


def test_settings_api(api, commit):
    body = api.get("/api/v1/coaching/settings").json()
    assert body["move_counts_as_leaving"] is False
    assert body["close_band_percent"] == 5.0
    response = api.patch(
        "/api/v1/coaching/settings",
        {"move_counts_as_leaving": True, "scorecard_kpis": ["aht", "turnover"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["scorecard_kpis"] == ["aht", "turnover"]
    bad = api.patch("/api/v1/coaching/settings", {"scorecard_kpis": ["nope"]}, format="json")
    assert bad.status_code == 400
    assert list(bad.json()["errors"]) == ["scorecard_kpis"]
    bad = api.patch("/api/v1/coaching/settings", {"close_band_percent": 100}, format="json")
    assert list(bad.json()["errors"]) == ["close_band_percent"]
