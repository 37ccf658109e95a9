"""The game configuration API at its edges: bad input names the field (400 problem details),
another tenant's objects are 404, scopes and widget tokens are enforced, and the read
endpoints answer in a number of queries that does not grow with the rows behind them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.api.auth import widget_token_mint
from accounts.services import agent_upsert
from gamify.contests import services as contests
from gamify.game import services
from gamify.game.models import PointRule
from tests.game.support import SHANGHAI, call, ingest, local, make_badge, make_rule
from tests.helpers import problem

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)
GOOD = {"name": "Per contact", "kpi": "contacts_handled", "kind": "per_unit", "points": 10}


@pytest.fixture
def a2(tenant, team):
    agent, _ = agent_upsert(
        tenant=tenant, external_id="a2", display_name="Bo Chen", team_external_id="t1"
    )
    return agent


def widget(agent):
    token, _ = widget_token_mint(agent=agent, ttl_seconds=600)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- bad input on point rules ---------------------------------------------------------------
TARGET = {"name": "CSAT day", "kpi": "csat", "kind": "target", "threshold": 80, "points": 25}
SCALED = {
    "name": "AHT zone",
    "kpi": "aht",
    "kind": "scaled",
    "lower": 420,
    "upper": 300,
    "points": 40,
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "kpi": "happiness"}, "kpi"),  # unknown KPI
        ({**GOOD, "kpi": "turnover"}, "kpi"),  # measured for teams only
        ({**GOOD, "kpi": 7}, "kpi"),
        ({**TARGET, "op": ">"}, "op"),
        ({**TARGET, "op": "=="}, "op"),
        ({**TARGET, "op": "<>"}, "op"),
        ({**GOOD, "points": -5}, "points"),  # negative points
        ({**GOOD, "points": "10"}, "points"),  # a string is not a number
        ({**GOOD, "points": 2.5}, "points"),
        ({**GOOD, "points": True}, "points"),
        ({**GOOD, "points": 10_000_000}, "points"),
        ({**TARGET, "threshold": "80"}, "threshold"),
        ({**TARGET, "min_volume": "5"}, "min_volume"),
        ({**TARGET, "min_volume": -1}, "min_volume"),
        ({k: v for k, v in TARGET.items() if k != "threshold"}, "threshold"),
        ({k: v for k, v in SCALED.items() if k != "lower"}, "lower"),  # scaled without lower
        ({k: v for k, v in SCALED.items() if k != "upper"}, "upper"),
        ({**SCALED, "upper": 420}, "upper"),  # upper == lower
        ({**SCALED, "lower": 300, "upper": 420}, "upper"),  # AHT: upper must be the smaller
        ({**SCALED, "lower": "420"}, "lower"),
        ({**GOOD, "cap": -1}, "cap"),
        ({**GOOD, "cap": "5"}, "cap"),
        ({**GOOD, "kind": "bonus"}, "kind"),
        ({**GOOD, "period": "year"}, "period"),
        ({**GOOD, "active": "yes"}, "active"),
        ({**GOOD, "bonus": 3}, "bonus"),  # unknown field
        ({k: v for k, v in GOOD.items() if k != "name"}, "name"),
        ({k: v for k, v in GOOD.items() if k != "kpi"}, "kpi"),
        ({k: v for k, v in GOOD.items() if k != "points"}, "points"),
        ({**GOOD, "name": "  "}, "name"),
    ],
)
def test_bad_point_rules_name_the_field(api, tenant, body, field):
    body = problem(api.post("/api/v1/point-rules", body, format="json"), 400)
    assert field in body["errors"], body
    assert not PointRule.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kpi": "nope"}, "kpi"),
        ({"op": "!="}, "op"),
        ({"points": -1}, "points"),
        ({"kind": "scaled"}, "lower"),  # now a scaled rule without lower/upper
        ({"threshold": "high"}, "threshold"),
        ({"id": 99}, "id"),
    ],
)
def test_bad_patch_names_the_field_and_changes_nothing(api, tenant, changes, field):
    rule = services.point_rule_create(tenant=tenant, values=TARGET)
    body = problem(api.patch(f"/api/v1/point-rules/{rule.pk}", changes, format="json"), 400)
    assert field in body["errors"], body
    assert api.get(f"/api/v1/point-rules/{rule.pk}").json()["points"] == 25
    rule.refresh_from_db()
    assert (rule.kind, rule.kpi, rule.op) == ("target", "csat", ">=")


def test_malformed_json_is_a_problem_not_a_500(api, tenant):
    response = api.generic(
        "POST", "/api/v1/point-rules", "{not json", content_type="application/json"
    )
    problem(response, 400)


def test_rule_round_trip(api, tenant):
    response = api.post(
        "/api/v1/point-rules", {**SCALED, "min_volume": 3, "cap": 30}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "AHT zone",
        "kpi": "aht",
        "kind": "scaled",
        "points": 40,
        "period": "day",
        "op": "",
        "threshold": None,
        "lower": 420.0,
        "upper": 300.0,
        "min_volume": 3.0,
        "cap": 30,
        "active": True,
    }
    assert api.get(f"/api/v1/point-rules/{body['id']}").json() == body


# --- tenancy --------------------------------------------------------------------------------
def test_another_tenants_objects_are_not_found(outsider_api, api, tenant, agent):
    rule = services.point_rule_create(tenant=tenant, values=GOOD)
    services.badge_create(
        tenant=tenant,
        code="fifty",
        values={"name": "F", "criteria": {"kind": "points", "points": 50}},
    )
    problem(outsider_api.get(f"/api/v1/point-rules/{rule.pk}"), 404)
    problem(outsider_api.patch(f"/api/v1/point-rules/{rule.pk}", {"points": 1}, format="json"), 404)
    problem(outsider_api.delete(f"/api/v1/point-rules/{rule.pk}"), 404)
    problem(outsider_api.get("/api/v1/badges/fifty"), 404)
    problem(outsider_api.patch("/api/v1/badges/fifty", {"coins": 9}, format="json"), 404)
    problem(outsider_api.get("/api/v1/agents/a1/profile"), 404)
    problem(outsider_api.get("/api/v1/agents/a1/badges"), 404)
    problem(
        outsider_api.post(
            "/api/v1/agents/a1/points/adjustments", {"points": 5, "reason": "x"}, format="json"
        ),
        404,
    )
    assert outsider_api.get("/api/v1/point-rules").json()["results"] == []
    assert outsider_api.get("/api/v1/badges").json()["results"] == []
    rule.refresh_from_db()
    assert (rule.points, rule.active, rule.deleted) == (10, True, False)
    assert api.get(f"/api/v1/point-rules/{rule.pk}").status_code == 200


# --- scopes and widget tokens ---------------------------------------------------------------
def test_read_key_reads_but_cannot_write(make_client, tenant, agent):
    reader = make_client(tenant, ("read",))
    rule = services.point_rule_create(tenant=tenant, values=GOOD)
    assert reader.get("/api/v1/point-rules").status_code == 200
    assert reader.get(f"/api/v1/point-rules/{rule.pk}").status_code == 200
    assert reader.get("/api/v1/badges").status_code == 200
    assert reader.get("/api/v1/agents/a1/profile").status_code == 200
    problem(reader.post("/api/v1/point-rules", GOOD, format="json"), 403)
    problem(reader.patch(f"/api/v1/point-rules/{rule.pk}", {"points": 1}, format="json"), 403)
    problem(reader.delete(f"/api/v1/point-rules/{rule.pk}"), 403)
    badge = {"code": "bb", "name": "B", "criteria": {"kind": "points", "points": 5}}
    problem(reader.post("/api/v1/badges", badge, format="json"), 403)
    assert not PointRule.objects.exclude(pk=rule.pk).exists()


def test_ingest_key_cannot_read_the_game(make_client, tenant, agent):
    ingester = make_client(tenant, ("ingest",))
    problem(ingester.get("/api/v1/point-rules"), 403)
    problem(ingester.get("/api/v1/agents/a1/profile"), 403)


def test_no_credentials_is_401(tenant, agent):
    problem(APIClient().get("/api/v1/agents/a1/profile"), 401)


def test_widget_reads_its_own_profile_only(tenant, agent, a2):
    client = widget(agent)
    mine = client.get("/api/v1/agents/a1/profile")
    assert mine.status_code == 200
    assert mine.json()["agent"] == "a1"
    assert client.get("/api/v1/agents/a1/badges").status_code == 200
    problem(client.get("/api/v1/agents/a2/profile"), 403)
    problem(client.get("/api/v1/agents/a2/badges"), 403)
    problem(client.post("/api/v1/point-rules", GOOD, format="json"), 403)
    problem(client.get("/api/v1/point-rules"), 403)
    problem(
        client.post(
            "/api/v1/agents/a1/points/adjustments", {"points": 5, "reason": "me"}, format="json"
        ),
        403,
    )


def test_widget_sees_only_its_own_activity(api, tenant, agent, a2):
    services.levels_replace(
        tenant=tenant,
        levels=[
            {"number": 1, "name": "A", "min_points": 0},
            {"number": 2, "name": "B", "min_points": 5},
        ],
    )
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=5)
    ingest(tenant, [call("a1", local("2026-11-10", 9)), call("a2", local("2026-11-10", 9))])
    assert len(api.get("/api/v1/activity").json()["results"]) == 2
    feed = widget(agent).get("/api/v1/activity", {"agent": "a2"}).json()["results"]
    assert [a["agent"] for a in feed] == ["a1"]


# --- query counts ---------------------------------------------------------------------------
def grow(tenant, n, offset=0):
    """n more agents-days of points, badges, activity, rules and badges in the catalogue."""
    for i in range(offset, offset + n):
        day = datetime(2026, 11, 2, tzinfo=SHANGHAI) + timedelta(days=i)
        ingest(tenant, [call("a1", local(day.date(), 9)), call("a2", local(day.date(), 9))])
        services.point_rule_create(tenant=tenant, values={**GOOD, "name": f"r{i}", "points": 1})
        make_badge(
            tenant,
            f"count-{i}",
            {"kind": "count", "kpi": "contacts_handled", "count": i + 1},
            coins=1,
        )


URLS = [
    "/api/v1/agents/a1/profile",
    "/api/v1/agents/a1/badges",
    "/api/v1/activity",
    "/api/v1/activity?agent=a1",
    "/api/v1/activity?team=t1&types=badge.awarded",
    "/api/v1/point-rules",
    "/api/v1/badges",
    "/api/v1/levels",
]


@pytest.mark.parametrize("url", URLS)
def test_query_count_does_not_grow_with_rows(api, count_queries, tenant, agent, a2, url):
    with time_machine.travel(NOW, tick=False):
        services.levels_replace(
            tenant=tenant,
            levels=[{"number": n + 1, "name": f"L{n}", "min_points": 10 * n} for n in range(6)],
        )
        grow(tenant, 1)
        api.get(url)  # warm caches (API key, live boards)
        small = count_queries(lambda: api.get(url))
        grow(tenant, 6, offset=1)
        response = api.get(url)
        assert response.status_code == 200
        large = count_queries(lambda: api.get(url))
    assert large == small, (url, small, large)


def test_profile_queries_do_not_grow_with_ranks(api, count_queries, tenant, agent, a2):
    with time_machine.travel(NOW, tick=False):
        make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=1)
        ingest(tenant, [call("a1", local("2026-11-20", 9))])
        api.get("/api/v1/agents/a1/profile")
        small = count_queries(lambda: api.get("/api/v1/agents/a1/profile"))
        for n in range(20):
            agent_upsert(
                tenant=tenant, external_id=f"x{n}", display_name=f"X{n}", team_external_id="t1"
            )
            ingest(tenant, [call(f"x{n}", local("2026-11-20", 10))])
        large = count_queries(lambda: api.get("/api/v1/agents/a1/profile"))
    assert large == small


def running_contest(tenant, n):
    start = datetime(2026, 11, 20, 0, tzinfo=SHANGHAI)
    return contests.contest_create(
        tenant=tenant,
        values={
            "name": f"Sprint {n}",
            "kind": "ranked",
            "entity": "agent",
            "metric": "contacts_handled",
            "starts_at": start,
            "ends_at": start + timedelta(days=2),
            "participants": {},
            "prizes": [{"rank_from": 1, "rank_to": 1, "coins": 10}],
        },
    )


def test_profile_queries_do_not_grow_with_running_contests(api, count_queries, tenant, agent, a2):
    url = "/api/v1/agents/a1/profile"
    with time_machine.travel(NOW, tick=False):
        ingest(tenant, [call("a1", local("2026-11-20", 9)), call("a2", local("2026-11-20", 9))])
        running_contest(tenant, 0)
        api.get(url)
        small = count_queries(lambda: api.get(url))
        for n in range(1, 4):
            running_contest(tenant, n)
        body = api.get(url).json()
        assert len(body["contests"]) == 4
        large = count_queries(lambda: api.get(url))
    assert large == small, (small, large)
