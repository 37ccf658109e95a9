"""The demo tenant's coaching: goals for the floor, a team and one agent, and alert rules.
Safe to run again: goals and rules are found by name, nothing doubles."""

from __future__ import annotations

from typing import Any

from accounts.models import Agent, Team, Tenant
from gamify.coaching import services
from gamify.coaching.models import AlertRule, Goal

GOALS: list[dict[str, Any]] = [
    {
        "name": "Handle calls within 5 minutes",
        "kpi": "aht",
        "op": "<=",
        "target": 300,
        "period": "week",
    },
    {
        "name": "Resolve 75 % on first contact",
        "kpi": "fcr",
        "op": ">=",
        "target": 75,
        "period": "week",
        "team": "support",
    },
    {
        "name": "40 contacts a day",
        "kpi": "contacts_handled",
        "target": 40,
        "period": "day",
        "agent": "agent-001",
    },
]
RULES: list[dict[str, Any]] = [
    {
        "name": "Clearly faster than the team",
        "kind": "exceeds",
        "kpi": "aht",
        "percent": 20,
        "periods": 2,
        "period": "day",
    },
    {
        "name": "Falling behind the team on FCR",
        "kind": "behind",
        "kpi": "fcr",
        "percent": 20,
        "periods": 2,
        "period": "day",
    },
    {"name": "A goal at risk", "kind": "behind", "basis": "goal"},
]


def seed_coaching(tenant: Tenant) -> None:
    for spec in GOALS:
        if Goal.objects.for_tenant(tenant).filter(name=spec["name"]).exists():
            continue
        values = dict(spec)
        if "agent" in values:
            values["agent"] = (
                Agent.objects.for_tenant(tenant).filter(external_id=values["agent"]).first()
            )
            if values["agent"] is None:
                continue
        if "team" in values:
            values["team"] = Team.objects.for_tenant(tenant).get(external_id=values["team"])
        services.goal_create(tenant=tenant, values=values)
    for spec in RULES:
        if not AlertRule.objects.for_tenant(tenant).filter(name=spec["name"]).exists():
            services.alert_rule_create(tenant=tenant, values=spec)
