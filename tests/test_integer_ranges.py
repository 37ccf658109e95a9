"""Every integer a client sends is checked against its column's range and a domain maximum: a
400 problem naming the field, never a 500 (issue 14, item 7). An id past the bigint range in
a path names nothing: 404. Dates and times a query or a contest names stay in 2000–2999.

The same limits hold in the admin, which saves through the same services.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Membership
from core.errors import InvalidInputError
from gamify.contests import services as contest_services
from gamify.game import services as game_services
from gamify.game.models import Badge, GameSettings, Level, PointRule

pytestmark = pytest.mark.django_db

HUGE = 2**63  # one past PostgreSQL's bigint
INT_TOO_BIG = 2**31  # one past PostgreSQL's integer

RULE = {"name": "Per contact", "kpi": "contacts_handled", "kind": "per_unit", "points": 10}
CONTEST = {
    "name": "Power hour",
    "metric": "contacts_handled",
    "starts_at": "2030-01-01T10:00:00+08:00",
    "ends_at": "2030-01-01T11:00:00+08:00",
}
CRITERIA = {
    "count": {"kind": "count", "kpi": "contacts_handled", "count": 10, "period": "day"},
    "streak": {"kind": "streak", "kpi": "fcr", "threshold": 80, "period": "day", "length": 3},
    "points": {"kind": "points", "points": 100},
    "contest_place": {"kind": "contest_place", "rank": 1},
}


def levels(min_points: int) -> list[dict]:
    return [
        {"number": 1, "name": "A", "min_points": 0},
        {"number": 2, "name": "B", "min_points": min_points},
    ]


def badge(criteria: dict) -> dict:
    return {"code": "b1", "name": "B1", "criteria": criteria}


def assert_names(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"], response.json()


# (method, path, body, the field the 400 names)
BODIES = [
    ("put", "/api/v1/levels", levels(HUGE), "1.min_points"),
    ("put", "/api/v1/levels", levels(INT_TOO_BIG), "1.min_points"),
    ("put", "/api/v1/levels", levels(1_000_000_001), "1.min_points"),
    (
        "put",
        "/api/v1/levels",
        [{"number": n + 1, "name": f"L{n}", "min_points": n} for n in range(101)],
        "levels",
    ),
    ("post", "/api/v1/point-rules", {**RULE, "cap": HUGE}, "cap"),
    ("post", "/api/v1/point-rules", {**RULE, "cap": 1_000_000_001}, "cap"),
    ("post", "/api/v1/point-rules", {**RULE, "points": HUGE}, "points"),
    ("post", "/api/v1/point-rules", {**RULE, "min_volume": 10**13}, "min_volume"),
    (
        "post",
        "/api/v1/point-rules",
        {**RULE, "kind": "target", "threshold": -(10**13)},
        "threshold",
    ),
    ("post", "/api/v1/badges", badge({**CRITERIA["count"], "count": HUGE}), "criteria.count"),
    (
        "post",
        "/api/v1/badges",
        badge({**CRITERIA["streak"], "length": 100_000_000}),
        "criteria.length",
    ),
    ("post", "/api/v1/badges", badge({**CRITERIA["streak"], "length": 367}), "criteria.length"),
    (
        "post",
        "/api/v1/badges",
        badge({**CRITERIA["points"], "points": INT_TOO_BIG}),
        "criteria.points",
    ),
    (
        "post",
        "/api/v1/badges",
        badge({**CRITERIA["contest_place"], "rank": HUGE}),
        "criteria.rank",
    ),
    (
        "post",
        "/api/v1/badges",
        badge({**CRITERIA["contest_place"], "contest": HUGE}),
        "criteria.contest",
    ),
    ("post", "/api/v1/badges", {**badge(CRITERIA["points"]), "coins": HUGE}, "coins"),
    ("post", "/api/v1/contests", {**CONTEST, "min_volume": 10**13}, "min_volume"),
    ("post", "/api/v1/contests", {**CONTEST, "target": HUGE}, "target"),
    (
        "post",
        "/api/v1/contests",
        {**CONTEST, "prizes": [{"rank_from": 1, "rank_to": HUGE}]},
        "prizes.0.rank_to",
    ),
    (
        "post",
        "/api/v1/contests",
        {**CONTEST, "prizes": [{"rank_from": HUGE}]},
        "prizes.0.rank_from",
    ),
    ("post", "/api/v1/contests", {**CONTEST, "prizes": [{"coins": HUGE}]}, "prizes.0.coins"),
    (
        "post",
        "/api/v1/contests",
        {**CONTEST, "guardrails": [{"kpi": "csat", "op": ">=", "value": 10**13}]},
        "guardrails.0.value",
    ),
    # … and the times of a contest (year 1 and 9999 overflowed in the tenant's timezone)
    (
        "post",
        "/api/v1/contests",
        {**CONTEST, "starts_at": "0001-01-01T00:00:00Z", "ends_at": "0001-01-01T01:00:00Z"},
        "starts_at",
    ),
    (
        "post",
        "/api/v1/contests",
        {**CONTEST, "starts_at": "9999-12-31T20:00:00Z", "ends_at": "9999-12-31T21:00:00Z"},
        "starts_at",
    ),
    ("post", "/api/v1/rewards", {"name": "R", "cost": HUGE}, "cost"),
    ("post", "/api/v1/rewards", {"name": "R", "cost": 1, "stock": INT_TOO_BIG}, "stock"),
    (
        "post",
        "/api/v1/rewards",
        {"name": "R", "cost": 1, "per_agent_monthly_limit": HUGE},
        "per_agent_monthly_limit",
    ),
    ("post", "/api/v1/redemptions", {"agent": "a1", "reward": HUGE}, "reward"),
    ("post", "/api/v1/redemptions", {"agent": "a1", "reward": 1, "quantity": HUGE}, "quantity"),
    ("post", "/api/v1/agents/a1/wallet/grants", {"amount": HUGE, "reason": "x"}, "amount"),
    ("post", "/api/v1/agents/a1/points/adjustments", {"points": -HUGE, "reason": "x"}, "points"),
    ("post", "/api/v1/widget-tokens", {"agent": "a1", "ttl_seconds": HUGE}, "ttl_seconds"),
    ("patch", "/api/v1/kpis/service_level", {"threshold_seconds": HUGE}, "threshold_seconds"),
    ("patch", "/api/v1/kpis/abandon_rate", {"short_abandon_seconds": 601}, "short_abandon_seconds"),
    ("patch", "/api/v1/kpis/fcr", {"min_volume": 10**12}, "min_volume"),
    (
        "post",
        "/api/v1/kpis",
        {
            "code": "sales",
            "name": "Sales",
            "unit": "count",
            "direction": "higher_is_better",
            "aggregation": "sum",
            "min_volume": HUGE,
        },
        "min_volume",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BODIES)
def test_an_integer_out_of_range_is_a_400_naming_the_field(api, agent, method, path, body, field):
    response = getattr(api, method)(path, body, format="json")
    assert_names(response, field)


@pytest.fixture
def objects(api, tenant, agent):
    """One of each object addressed by a server id, so a 404 below is about the id alone."""
    rule = game_services.point_rule_create(tenant=tenant, values=RULE)
    reward = api.post("/api/v1/rewards", {"name": "R", "cost": 1}, format="json").json()
    contest = api.post("/api/v1/contests", CONTEST, format="json").json()
    return {"rule": rule.pk, "reward": reward["id"], "contest": contest["id"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/point-rules/{id}"),
        ("patch", "/api/v1/point-rules/{id}"),
        ("delete", "/api/v1/point-rules/{id}"),
        ("get", "/api/v1/contests/{id}"),
        ("patch", "/api/v1/contests/{id}"),
        ("post", "/api/v1/contests/{id}/cancel"),
        ("get", "/api/v1/contests/{id}/standings"),
        ("get", "/api/v1/rewards/{id}"),
        ("patch", "/api/v1/rewards/{id}"),
        ("delete", "/api/v1/rewards/{id}"),
        ("get", "/api/v1/redemptions/{id}"),
        ("post", "/api/v1/redemptions/{id}/approve"),
        ("post", "/api/v1/redemptions/{id}/reject"),
        ("post", "/api/v1/redemptions/{id}/fulfill"),
        ("post", "/api/v1/redemptions/{id}/fulfil"),
        ("get", "/api/v1/events/import/{id}"),
    ],
)
@pytest.mark.parametrize("number", [HUGE, 10**30])
def test_a_too_large_id_in_a_path_is_a_404(api, objects, method, path, number):
    response = getattr(api, method)(path.format(id=number), {}, format="json")
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/agents?limit=9223372036854775808", "limit"),
        ("/api/v1/agents?limit=501", "limit"),
        ("/api/v1/agents?limit=²", "limit"),  # a digit to str.isdigit(), not to int()
        ("/api/v1/agents?limit=", "limit"),
        ("/api/v1/rewards?limit=0", "limit"),
        ("/api/v1/leaderboards?limit=9223372036854775808", "limit"),
        ("/api/v1/leaderboards?limit=101", "limit"),
        ("/api/v1/agents/a1/wallet?limit=9223372036854775808", "limit"),
        ("/api/v1/agents/a1/kpis?date=0001-01-01", "date"),
        ("/api/v1/agents/a1/kpis?date=9999-12-31", "date"),
        ("/api/v1/agents/a1/kpis?date=20261120", "date"),
        ("/api/v1/agents/a1/kpis?date=", "date"),
        ("/api/v1/agents/a1/kpis?period=", "period"),
        ("/api/v1/agents/a1/kpis/aht/series?granularity=", "granularity"),
        ("/api/v1/leaderboards?period=week&date=9999-12-31", "date"),
        ("/api/v1/leaderboards?entity=", "entity"),
        ("/api/v1/contests?status=", "status"),
        ("/api/v1/redemptions?status=", "status"),
        (
            "/api/v1/teams/t1/kpis?start=0001-01-01T00:00:00%2B14:00&end=2026-01-01T00:00:00Z",
            "start",
        ),
        (
            "/api/v1/teams/t1/kpis?start=2026-01-01T00:00:00Z&end=9999-12-31T23:00:00-12:00",
            "end",
        ),
    ],
)
def test_a_query_parameter_out_of_range_is_a_400_naming_it(api, agent, path, field):
    assert_names(api.get(path), field)


def test_the_largest_values_in_range_are_accepted(api, agent):
    # The limits are the documented ones, not lower: each maximum itself goes through.
    response = api.put("/api/v1/levels", levels(1_000_000_000), format="json")
    assert response.status_code == 200, response.content
    response = api.post("/api/v1/point-rules", {**RULE, "cap": 1_000_000_000}, format="json")
    assert response.status_code == 201, response.content
    length = {**CRITERIA["streak"], "length": 366}
    assert api.post("/api/v1/badges", badge(length), format="json").status_code == 201
    prize = [{"rank_from": 1, "rank_to": 100_000, "coins": 1_000_000}]
    response = api.post("/api/v1/contests", {**CONTEST, "prizes": prize}, format="json")
    assert response.status_code == 201, response.content
    assert api.get("/api/v1/agents?limit=500").status_code == 200
    assert api.get("/api/v1/agents/a1/kpis?date=2999-12-31&period=year").status_code == 200
    assert api.get("/api/v1/agents/a1/kpis?date=2000-01-01&period=week").status_code == 200


# --- the admin refuses the same, through the same services ---------------------------------
@pytest.fixture
def manager(client, tenant):
    user = get_user_model().objects.create_user("mgr", password="pw-123456789", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role="manager")
    client.force_login(user)
    return client


def rule_form(tenant, **changes):
    values = {
        "tenant": tenant.pk,
        "name": "Per contact",
        "kpi": "contacts_handled",
        "kind": "per_unit",
        "points": "10",
        "period": "day",
        "op": "",
        "threshold": "",
        "lower": "",
        "upper": "",
        "min_volume": "0",
        "cap": "",
        "active": "on",
    }
    return {**values, **changes}


@pytest.mark.parametrize("cap", ["1000000001", str(INT_TOO_BIG), str(HUGE)])
def test_the_admin_refuses_a_cap_out_of_range(manager, tenant, cap):
    response = manager.post("/admin/game/pointrule/add/", rule_form(tenant, cap=cap))
    assert response.status_code == 200  # the form again, with the error
    assert "errornote" in response.content.decode()
    assert not PointRule.objects.exists()


def test_the_admin_refuses_a_streak_too_long(manager, tenant):
    # The badge form has one field per criterion (criteria_<name>), checked by the service.
    criteria = {f"criteria_{k}": str(v) for k, v in CRITERIA["streak"].items() if k != "kind"}
    data = {
        "tenant": tenant.pk,
        "code": "long",
        "name": "Long",
        "description": "",
        "icon": "",
        "coins": "0",
        "kind": "streak",
        **criteria,
        "criteria_length": "100000000",
        "active": "on",
    }
    response = manager.post("/admin/game/badge/add/", data)
    assert response.status_code == 200
    page = response.content.decode()
    error = re.search(r'<ul class="errorlist" id="id_criteria_length_error">(.*?)</ul>', page, re.S)
    assert error is not None, page[:3000]
    assert "366" in error[1]
    assert not Badge.objects.exists()


def test_the_admin_refuses_a_level_out_of_range(manager, tenant):
    data = {"tenant": tenant.pk, "number": "2", "name": "Pro", "min_points": "1500000000"}
    Level.objects.create(tenant=tenant, number=1, name="Rookie", min_points=0)
    response = manager.post("/admin/game/level/add/", data)
    assert response.status_code == 200
    assert "1000000000" in response.content.decode()
    assert Level.objects.filter(tenant=tenant).count() == 1


def test_contest_validation_the_admin_shares_refuses_a_prize_rank_out_of_range(tenant):
    # The contest admin form hands its prizes to contest_validate, as the API does.
    with pytest.raises(InvalidInputError) as caught:
        contest_services.contest_validate(
            tenant=tenant,
            values={
                **{k: v for k, v in CONTEST.items() if k not in ("starts_at", "ends_at")},
                "kind": "ranked",
                "entity": "agent",
                "starts_at": _aware("2030-01-01T10:00:00+08:00"),
                "ends_at": _aware("2030-01-01T11:00:00+08:00"),
                "prizes": [{"rank_from": 1, "rank_to": 100_001}],
            },
        )
    assert caught.value.errors == {"prizes.0.rank_to": ["A whole number from 1 to 100000."]}


def _aware(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


@pytest.mark.parametrize("minutes", ["10081", str(INT_TOO_BIG - 1)])
def test_the_admin_refuses_a_grace_window_out_of_range(manager, tenant, minutes):
    # A grace of 2^31 - 1 minutes (what the column holds) reaches before year 1: the beat
    # jobs that subtract it from now would fail for the tenant on every run.
    data = {"tenant": tenant.pk, "grace_minutes": minutes}
    response = manager.post("/admin/game/gamesettings/add/", data)
    assert response.status_code == 200
    assert "10080" in response.content.decode()
    assert not GameSettings.objects.exists()
    response = manager.post("/admin/game/gamesettings/add/", {**data, "grace_minutes": "10080"})
    assert response.status_code == 302
    assert GameSettings.objects.get().grace_minutes == 10080
