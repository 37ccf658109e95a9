"""Points follow the one invariant too: for random event streams, rule sets, rule edits,
retried applications and finalizations, the incrementally maintained game state (awards,
points per day, lifetime points and levels, badges) equals a recompute from scratch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamify.game import services
from gamify.game.finalization import period_finalize
from gamify.game.models import AgentDayPoints, AgentGameState, BadgeAward, PointAward, PointRule
from kpis.ingest import batches_apply, events_ingest
from tests.kpis.test_invariant import START, _event, setup_tenant

pytestmark = pytest.mark.django_db

KPIS = ["contacts_handled", "fcr", "aht", "csat", "service_level", "adherence", "sales"]


@st.composite
def rules(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["per_unit", "target", "scaled"]))
    kpi = draw(st.sampled_from(KPIS))
    rule: dict[str, Any] = {
        "name": f"{kind} {kpi}",
        "kpi": kpi,
        "kind": kind,
        "points": draw(st.integers(1, 30)),
        "period": draw(st.sampled_from(["day", "week"])),
        "min_volume": draw(st.sampled_from([0, 1, 3])),
        "cap": draw(st.sampled_from([None, None, 10, 50])),
    }
    if kind == "target":
        rule["threshold"] = draw(st.sampled_from([0, 50, 80, 100, 300]))
        rule["op"] = draw(st.sampled_from([">=", "<="]))
    elif kind == "scaled":
        low, high = draw(st.sampled_from([(0, 100), (50, 90), (400, 200)]))
        lower_better = kpi == "aht"
        rule["lower"], rule["upper"] = (
            (max(low, high), min(low, high)) if lower_better else (min(low, high), max(low, high))
        )
    return rule


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    events = [_event(draw, n) for n in range(draw(st.integers(1, 30)))]
    steps: list[tuple[str, Any]] = []
    pool = list(events)
    while pool:
        size = draw(st.integers(1, 10))
        batch, pool = pool[:size], pool[size:]
        steps.append(("batch", batch))
        roll = draw(st.integers(0, 7))
        if roll == 0:
            steps.append(("retry", None))  # a retried task applies again
        elif roll == 1:
            steps.append(("finalize", draw(st.integers(0, 2))))
        elif roll == 2:
            steps.append(("edit", draw(st.integers(1, 30))))
    return {"rules": draw(st.lists(rules(), min_size=1, max_size=4)), "steps": steps}


def snapshot(tenant: Any) -> dict[str, Any]:
    return {
        "awards": set(
            PointAward.objects.filter(tenant=tenant).values_list(
                "rule_id", "agent_id", "period_start", "day", "points", "finalized"
            )
        ),
        "days": set(
            AgentDayPoints.objects.filter(tenant=tenant).values_list("agent_id", "day", "points")
        ),
        "state": set(
            AgentGameState.objects.filter(tenant=tenant)
            .exclude(lifetime_points=0)
            .values_list("agent_id", "lifetime_points", "level")
        ),
        "badges": set(
            BadgeAward.objects.filter(tenant=tenant).values_list(
                "badge_id", "agent_id", "period_key"
            )
        ),
    }


def run(scenario: dict[str, Any]) -> None:
    tenant, _ = setup_tenant()
    services.levels_replace(
        tenant=tenant,
        levels=[
            {"number": 1, "name": "A", "min_points": 0},
            {"number": 2, "name": "B", "min_points": 40},
            {"number": 3, "name": "C", "min_points": 150},
        ],
    )
    services.badge_create(
        tenant=tenant,
        code="ten-contacts",
        values={
            "name": "Ten",
            "criteria": {"kind": "count", "kpi": "contacts_handled", "count": 2, "period": "day"},
            "repeatable": True,
        },
    )
    services.badge_create(
        tenant=tenant,
        code="fifty-points",
        values={"name": "Fifty", "criteria": {"kind": "points", "points": 50}},
    )
    rule_ids = [
        services.point_rule_create(tenant=tenant, values=rule).pk for rule in scenario["rules"]
    ]
    for step, arg in scenario["steps"]:
        if step == "batch":
            events_ingest(tenant=tenant, items=arg)
            batches_apply(tenant_id=tenant.pk)
        elif step == "retry":
            from gamify.game.engine import game_recompute

            game_recompute(tenant=tenant, agent_days={1: set()})  # no-op keys
            batches_apply(tenant_id=tenant.pk)
        elif step == "finalize":
            day = (START + timedelta(days=arg)).astimezone(tenant.tz).date()
            period_finalize(tenant=tenant, kind="day", start=day)
        else:
            rule = PointRule.objects.get(pk=rule_ids[0])
            services.point_rule_update(rule=rule, changes={"points": arg})
            services.game_rebuild(tenant=tenant)  # what the on-commit task does

    before = snapshot(tenant)
    assert len(before["badges"]) == BadgeAward.objects.filter(tenant=tenant).count()
    services.game_rebuild(tenant=tenant)
    after = snapshot(tenant)
    assert after == before
    # Every day total is the sum of what it is made of.
    for agent, day, points in after["days"]:
        awards = sum(p for _, a, _, d, p, _ in after["awards"] if a == agent and d == day)
        assert points == awards
    for agent, lifetime, _ in after["state"]:
        assert lifetime == sum(p for a, _, p in after["days"] if a == agent)


def test_incremental_points_equal_a_recompute():
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(scenario=scenarios())
    def check(scenario: dict[str, Any]) -> None:
        with transaction.atomic():
            try:
                run(scenario)
            finally:
                transaction.set_rollback(True)

    check()
