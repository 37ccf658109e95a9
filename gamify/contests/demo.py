"""The demo's contests: a running individual one, a team-vs-team one with a quality guardrail,
and a finished one with winners."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from accounts.models import Tenant
from gamify.contests.models import Contest
from gamify.contests.services import contest_create, contests_advance
from kpis.periods import local_today, period_of


def seed_contests(tenant: Tenant) -> None:
    today = local_today(tenant)
    week = period_of("week", today, tenant)
    month = period_of("month", today, tenant)
    last_week = period_of("week", today - timedelta(days=7), tenant)
    existing = set(Contest.objects.for_tenant(tenant).values_list("name", flat=True))
    contests: list[dict[str, Any]] = [
        {
            "name": "Resolution race",
            "kind": "ranked",
            "entity": "agent",
            "metric": "fcr",
            "starts_at": week.start,
            "ends_at": week.end,
            "min_volume": 10,
            "prizes": [
                {"rank_from": 1, "rank_to": 1, "coins": 50, "badge": "contest-winner"},
                {"rank_from": 2, "rank_to": 3, "coins": 20, "badge": None},
            ],
            "recurrence": "weekly",
        },
        {
            "name": "AHT team challenge (CSAT ≥ 80 %)",
            "kind": "ranked",
            "entity": "team",
            "metric": "aht",
            "starts_at": month.start,
            "ends_at": month.end,
            "participants": {"teams": ["support-t1", "support-t2", "sales"]},
            "guardrails": [{"kpi": "csat", "op": ">=", "value": 80}],
            "prizes": [{"rank_from": 1, "rank_to": 1, "coins": 30, "badge": None}],
        },
        {
            "name": "Last week's points sprint",
            "kind": "ranked",
            "entity": "agent",
            "metric": "points",
            "starts_at": last_week.start,
            "ends_at": last_week.end,
            "prizes": [
                {"rank_from": 1, "rank_to": 1, "coins": 100, "badge": "contest-winner"},
                {"rank_from": 2, "rank_to": 5, "coins": 25, "badge": None},
            ],
        },
    ]
    for values in contests:
        if values["name"] not in existing:
            contest_create(tenant=tenant, values=values)
    contests_advance(tenant=tenant)  # last week's sprint ends and is finalized
