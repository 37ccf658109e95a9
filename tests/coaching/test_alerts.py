"""Alert rules: crafted streams, cool-downs, "exceeds" and "behind" never both, period close."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from gamify.activity.models import Activity
from gamify.coaching.evaluation import periods_close_due
from tests.game.support import call, ingest, local
from tests.helpers import problem

pytestmark = pytest.mark.django_db


def rule(api, **fields: Any) -> dict[str, Any]:
    body = {"name": f"{fields['kind']} {fields.get('kpi', '')}", "kpi": "aht", **fields}
    response = api.post("/api/v1/alert-rules", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def alerts(kind: str | None = None) -> list[Activity]:
    types = [f"alert.{kind}"] if kind else ["alert.exceeds", "alert.behind"]
    return list(Activity.objects.filter(type__in=types).select_related("agent").order_by("id"))


def calls(agent: str, talk: float, *minutes: int, day: str = "2026-11-23", hour: int = 9):
    return [call(agent, local(day, hour, m), talk=talk) for m in minutes]


def test_exceeds_fires_once_per_cool_down(api, tenant, floor, now):
    created = rule(api, kind="exceeds", percent=20, periods=1, period="day", cooldown_minutes=60)
    # a1 60 s, a2 and a3 200 s: the team's AHT = (120 + 400 + 400) / 6 = 153.33;
    # a1 is better by more than 20 % (under 122.67)
    ingest(tenant, calls("a1", 60, 0, 1) + calls("a2", 200, 2, 3) + calls("a3", 200, 4, 5))
    [first] = alerts()
    assert first.type == "alert.exceeds"
    assert first.agent.external_id == "a1"
    assert first.data["rule"] == created["id"]
    assert first.data["kpi"] == "aht"
    assert (first.data["value"], first.data["team_average"]) == (60.0, 153.33)
    assert first.data["period"] == {"type": "day", "start": "2026-11-23", "end": "2026-11-24"}
    # a bad morning's twelve batches later, inside the hour: nothing more
    for n in range(12):
        now.move_to(local("2026-11-23", 10, 4 * n + 1))
        ingest(tenant, calls("a1", 60, 30 + n, hour=9))
    assert len(alerts()) == 1
    now.move_to(local("2026-11-23", 11, 1))
    ingest(tenant, calls("a1", 60, 50))
    assert [a.agent.external_id for a in alerts()] == ["a1", "a1"]


def test_behind_and_exceeds_never_both_for_an_agent_kpi_and_period(api, tenant, floor, now):
    rule(api, kind="exceeds", percent=10, period="day", cooldown_minutes=0)
    rule(api, kind="behind", percent=10, period="day", cooldown_minutes=0)
    # a1 fast first (exceeds), then slow enough to be far behind the team
    ingest(tenant, calls("a1", 60, 0) + calls("a2", 200, 1) + calls("a3", 200, 2))
    ingest(tenant, calls("a1", 900, 3, 4, 5))
    ingest(tenant, calls("a1", 900, 6))
    kinds = Counter((a.agent.external_id, a.data["kpi"], a.data["period"]["start"], a.type)
                    for a in alerts())  # fmt: skip
    per_period = Counter(key[:3] for key in kinds)
    # a1 exceeded first, and so no "behind" for a1 today however far behind it fell
    assert ("a1", "aht", "2026-11-23", "alert.exceeds") in kinds
    assert ("a1", "aht", "2026-11-23", "alert.behind") not in kinds
    for (agent, kpi, start), _ in per_period.items():
        types = {k[3] for k in kinds if k[:3] == (agent, kpi, start)}
        assert len(types) == 1, (agent, types)
    # the next day is another period: a1, slow from the start, is behind
    now.move_to(local("2026-11-24", 10))
    ingest(tenant, calls("a1", 900, 0, day="2026-11-24") + calls("a2", 200, 1, day="2026-11-24"))
    assert ("a1", "alert.behind") in {(a.agent.external_id, a.type) for a in alerts()}


def test_consecutive_periods(api, tenant, floor, now):
    rule(api, kind="behind", percent=10, periods=2, period="day", cooldown_minutes=0)
    # today only: a2 is behind (200 against (60 + 200) / 2 = 130) but not yesterday → nothing
    ingest(tenant, calls("a1", 60, 0) + calls("a2", 200, 1))
    assert alerts() == []
    # yesterday's figures arrive late: behind both days → fires (judged with today's batch)
    ingest(tenant, calls("a1", 60, 0, day="2026-11-22") + calls("a2", 300, 1, day="2026-11-22"))
    ingest(tenant, calls("a2", 200, 2))
    [alert] = alerts()
    assert alert.agent.external_id == "a2"
    assert alert.data["values"] == [200.0, 300.0]  # today, then yesterday
    # today (60 + 200 + 200) / 3 = 153.33 (200 > 168.67), yesterday (60 + 300) / 2 = 180
    assert alert.data["team_averages"] == [153.33, 180.0]


def test_goal_alerts(api, tenant, commit, floor, now):
    rule(api, kind="exceeds", basis="goal", kpi="", cooldown_minutes=0)
    rule(api, kind="behind", basis="goal", kpi="contacts_handled", cooldown_minutes=0)
    goal = {"kpi": "contacts_handled", "target": 2, "period": "day", "scope": {"agent": "a1"}}
    response = commit(lambda: api.post("/api/v1/goals", goal, format="json"))
    assert response.status_code == 201
    # Monday 10:00, no contact yet: 0 of 2 with 10 of 24 hours gone → at risk, told once
    ingest(tenant, calls("a2", 60, 0))
    [behind] = alerts()
    assert (behind.type, behind.agent.external_id) == ("alert.behind", "a1")
    assert behind.data["status"] == "at_risk"
    # a1's two contacts achieve it before the day ends: but "behind" owns today's period
    ingest(tenant, calls("a1", 60, 1, 2))
    assert [a.type for a in alerts()] == ["alert.behind"]
    # tomorrow it is achieved early in the day (nothing at risk yet): exceeds
    now.move_to(local("2026-11-24", 1))
    ingest(tenant, calls("a1", 60, 1, 2, day="2026-11-24", hour=0))
    assert [a.type for a in alerts()] == ["alert.behind", "alert.exceeds"]
    assert alerts()[-1].data["goal"] == response.json()["id"]


def test_alerts_at_period_close(api, tenant, floor, now):
    # figures that arrived before the rule existed are judged when the day closes
    ingest(tenant, calls("a1", 60, 0) + calls("a2", 200, 1))
    rule(api, kind="exceeds", percent=10, period="day")
    assert alerts() == []
    now.move_to(local("2026-11-24", 3))  # after the 2 h grace window
    periods_close_due(tenant=tenant)
    [alert] = alerts()
    assert alert.agent.external_id == "a1"
    periods_close_due(tenant=tenant)
    assert len(alerts()) == 1


def test_alert_rule_crud_and_bad_input(api, outsider_api, floor):
    created = rule(api, kind="behind", percent=15, periods=3, period="week")
    assert (created["basis"], created["cooldown_minutes"], created["active"]) == (
        "team_average",
        240,
        True,
    )

    def errors(body):
        return problem(api.post("/api/v1/alert-rules", body, format="json"), 400)["errors"]

    base = {"name": "x", "kind": "behind", "kpi": "aht"}
    assert list(errors({**base, "periods": 0})) == ["periods"]
    assert list(errors({**base, "kpi": "nope"})) == ["kpi"]
    assert list(errors({**base, "kpi": "turnover"})) == ["kpi"]
    assert list(errors({**base, "kind": "sideways"})) == ["kind"]
    assert list(errors({**base, "percent": -1})) == ["percent"]
    assert list(errors({**base, "period": "quarter"})) == ["period"]
    url = f"/api/v1/alert-rules/{created['id']}"
    response = api.patch(url, {"periods": 2}, format="json")
    assert response.status_code == 200
    assert response.json()["periods"] == 2
    assert list(problem(api.patch(url, {"periods": 0}, format="json"), 400)["errors"]) == [
        "periods"
    ]
    for method in ("get", "patch", "delete"):
        problem(getattr(outsider_api, method)(url), 404)
    assert api.delete(url).status_code == 204
    problem(api.get(url), 404)
