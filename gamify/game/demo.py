"""The demo tenant's game: a level table, point rules of every kind and a dozen badges."""

from __future__ import annotations

from typing import Any

from accounts.models import Tenant
from gamify.game import services
from gamify.game.models import Badge, PointRule

LEVELS = [
    (1, "Rookie", 0),
    (2, "Apprentice", 400),
    (3, "Pro", 1200),
    (4, "Expert", 2500),
    (5, "Master", 4500),
    (6, "Legend", 8000),
]

RULES: list[dict[str, Any]] = [
    {
        "name": "2 points per contact handled (max 80 a day)",
        "kpi": "contacts_handled",
        "kind": "per_unit",
        "points": 2,
        "period": "day",
        "cap": 80,
    },
    {
        "name": "5 points per first-contact resolution",
        "kpi": "fcr",
        "kind": "per_unit",
        "points": 5,
        "period": "day",
    },
    {
        "name": "5 points per delighted customer (CSAT 4–5)",
        "kpi": "csat",
        "kind": "per_unit",
        "points": 5,
        "period": "day",
    },
    {
        "name": "25 points for a day with CSAT ≥ 80 % (3+ surveys)",
        "kpi": "csat",
        "kind": "target",
        "points": 25,
        "period": "day",
        "op": ">=",
        "threshold": 80,
        "min_volume": 3,
    },
    {
        "name": "Up to 40 points a day as AHT goes from 420 s down to 300 s",
        "kpi": "aht",
        "kind": "scaled",
        "points": 40,
        "period": "day",
        "lower": 420,
        "upper": 300,
        "min_volume": 5,
    },
    {
        "name": "100 points for a week with FCR ≥ 75 % (50+ contacts)",
        "kpi": "fcr",
        "kind": "target",
        "points": 100,
        "period": "week",
        "op": ">=",
        "threshold": 75,
        "min_volume": 50,
    },
]

BADGES: list[tuple[str, dict[str, Any]]] = [
    (
        "first-fix",
        {
            "name": "First fix",
            "icon": "🎯",
            "coins": 5,
            "description": "Resolved a customer's issue on the first contact",
            "criteria": {"kind": "count", "kpi": "fcr", "count": 1, "period": "lifetime"},
        },
    ),
    (
        "century",
        {
            "name": "Century",
            "icon": "💯",
            "coins": 20,
            "description": "100 contacts handled",
            "criteria": {
                "kind": "count",
                "kpi": "contacts_handled",
                "count": 100,
                "period": "lifetime",
            },
        },
    ),
    (
        "busy-day",
        {
            "name": "Busy day",
            "icon": "🔥",
            "coins": 2,
            "repeatable": True,
            "description": "25 contacts handled in a day",
            "criteria": {"kind": "count", "kpi": "contacts_handled", "count": 25, "period": "day"},
        },
    ),
    (
        "csat-star",
        {
            "name": "CSAT star",
            "icon": "⭐",
            "coins": 5,
            "repeatable": True,
            "description": "A day with CSAT ≥ 90 % over 3+ surveys",
            "criteria": {
                "kind": "kpi_threshold",
                "kpi": "csat",
                "op": ">=",
                "threshold": 90,
                "period": "day",
                "min_volume": 3,
            },
        },
    ),
    (
        "fcr-champion",
        {
            "name": "FCR champion",
            "icon": "🏆",
            "coins": 20,
            "repeatable": True,
            "description": "A week with FCR ≥ 80 % over 30+ contacts",
            "criteria": {
                "kind": "kpi_threshold",
                "kpi": "fcr",
                "op": ">=",
                "threshold": 80,
                "period": "week",
                "min_volume": 30,
            },
        },
    ),
    (
        "quick-hands",
        {
            "name": "Quick hands",
            "icon": "⚡",
            "coins": 3,
            "repeatable": True,
            "description": "A day with AHT ≤ 300 s over 10+ contacts",
            "criteria": {
                "kind": "kpi_threshold",
                "kpi": "aht",
                "op": "<=",
                "threshold": 300,
                "period": "day",
                "min_volume": 10,
            },
        },
    ),
    (
        "quality-month",
        {
            "name": "Quality month",
            "icon": "🧐",
            "coins": 15,
            "repeatable": True,
            "description": "A month with QA ≥ 88",
            "criteria": {
                "kind": "kpi_threshold",
                "kpi": "qa_score",
                "op": ">=",
                "threshold": 88,
                "period": "month",
                "min_volume": 1,
            },
        },
    ),
    (
        "on-time",
        {
            "name": "On time",
            "icon": "⏰",
            "coins": 15,
            "repeatable": True,
            "description": "5 days in a row with adherence ≥ 93 %",
            "criteria": {
                "kind": "streak",
                "kpi": "adherence",
                "op": ">=",
                "threshold": 93,
                "period": "day",
                "length": 5,
                "min_volume": 3600,
            },
        },
    ),
    (
        "happy-streak",
        {
            "name": "Happy streak",
            "icon": "😊",
            "coins": 10,
            "description": "3 days in a row with CSAT ≥ 80 % (2+ surveys a day)",
            "criteria": {
                "kind": "streak",
                "kpi": "csat",
                "op": ">=",
                "threshold": 80,
                "period": "day",
                "length": 3,
                "min_volume": 2,
            },
        },
    ),
    (
        "points-bronze",
        {
            "name": "Bronze",
            "icon": "🥉",
            "coins": 10,
            "description": "1,000 lifetime points",
            "criteria": {"kind": "points", "points": 1000},
        },
    ),
    (
        "points-silver",
        {
            "name": "Silver",
            "icon": "🥈",
            "coins": 25,
            "description": "2,500 lifetime points",
            "criteria": {"kind": "points", "points": 2500},
        },
    ),
    (
        "points-gold",
        {
            "name": "Gold",
            "icon": "🥇",
            "coins": 50,
            "description": "5,000 lifetime points",
            "criteria": {"kind": "points", "points": 5000},
        },
    ),
    (
        "contest-winner",
        {
            "name": "Contest winner",
            "icon": "👑",
            "coins": 0,
            "repeatable": True,
            "description": "Won a contest",
            "criteria": {"kind": "contest_place", "contest": None, "rank": 1},
        },
    ),
]


def seed_game(tenant: Tenant) -> None:
    """Create (or leave as they are) the demo's levels, rules and badges."""
    services.levels_replace(
        tenant=tenant,
        levels=[{"number": n, "name": name, "min_points": m} for n, name, m in LEVELS],
    )
    existing_rules = set(PointRule.objects.for_tenant(tenant).values_list("name", flat=True))
    for rule in RULES:
        if rule["name"] not in existing_rules:
            services.point_rule_create(tenant=tenant, values=rule)
    existing_badges = set(Badge.objects.for_tenant(tenant).values_list("code", flat=True))
    for code, values in BADGES:
        if code not in existing_badges:
            services.badge_create(tenant=tenant, code=code, values=values)
