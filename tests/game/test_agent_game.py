"""The agent's game in one statement (`agent_game`, what a widget card re-reads on every change
of its agent): the same totals, badges, awards and adjustments as the ORM reads of each, in
the same order, for every part at once; another tenant's rows never come in.

The tenant is in Asia/Shanghai; 2026-11-11 is the Wednesday of the week 11-09 … 11-15.
"""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from accounts.services import agent_upsert
from gamify.game import selectors, services
from gamify.game.models import AgentDayPoints, PointAdjustment, PointAward
from tests.game.support import call, ingest, local, make_badge, make_rule

pytestmark = pytest.mark.django_db

WEEK = (date(2026, 11, 9), date(2026, 11, 16))


def _orm(tenant, agent):  # each part read the ORM's way, as before agent_game
    awards = [
        (a.rule.name, a.rule.kpi, a.rule.period, a.period_start, a.day, a.points)
        for a in PointAward.objects.filter(
            tenant=tenant, agent=agent, day__gte=WEEK[0], day__lt=WEEK[1]
        )
        .exclude(points=0)
        .select_related("rule")
        .order_by("-day", "rule__name")
    ]
    adjustments = [
        (a.reason, a.day, a.points, a.created_at)
        for a in PointAdjustment.objects.filter(
            tenant=tenant, agent=agent, day__gte=WEEK[0], day__lt=WEEK[1]
        ).order_by("-created_at", "-id")
    ]
    badges = [
        (b.badge.code, b.badge.name, b.badge.icon, b.awarded_at)
        for b in selectors.agent_badges(tenant=tenant, agent_id=agent.pk)[:20]
    ]
    return _points_totals(tenant, agent), badges, awards, adjustments


def _points_totals(tenant, agent) -> dict[str, int]:
    """Lifetime and current day, week and month points, the ORM's way (one aggregate)."""
    aggregates = {"p_lifetime": Coalesce(Sum("points"), 0)}
    for kind in selectors.POINT_PERIODS:
        first, after = selectors.period_days(tenant, kind)
        aggregates[f"p_{kind}"] = Coalesce(
            Sum("points", filter=Q(day__gte=first, day__lt=after)), 0
        )
    sums = AgentDayPoints.objects.filter(tenant=tenant, agent=agent).aggregate(**aggregates)
    return {name.removeprefix("p_"): int(value) for name, value in sums.items()}


def test_agent_game_equals_the_orm_reads_part_by_part(tenant, outsider, agent):
    make_rule(tenant, kind="per_unit", kpi="contacts_handled", points=2, name="Beta per call")
    make_rule(tenant, kind="per_unit", kpi="contacts_handled", points=1, name="Alpha per call")
    make_badge(tenant, "first-call", {"kind": "count", "kpi": "contacts_handled", "count": 1})
    make_badge(tenant, "two-calls", {"kind": "count", "kpi": "contacts_handled", "count": 2})
    other, _ = agent_upsert(
        tenant=outsider, external_id="a1", display_name="Not Ann", team_external_id=None
    )
    with time_machine.travel(local("2026-11-11", 15), tick=False):
        ingest(tenant, [call("a1", local(d, 10)) for d in ("2026-11-02", "2026-11-10")])
        ingest(tenant, [call("a1", local("2026-11-11", h)) for h in (9, 10, 11)])
        ingest(outsider, [call("a1", local("2026-11-11", 9))])
        services.points_adjust(tenant=tenant, agent=agent, points=5, reason="Helped", actor="m")
        services.points_adjust(tenant=tenant, agent=agent, points=-2, reason="Late", actor="m")
        services.points_adjust(tenant=outsider, agent=other, points=9, reason="Theirs", actor="m")
        game = selectors.agent_game(tenant=tenant, agent_id=agent.pk, badges=20, window=WEEK)
        totals, badges, awards, adjustments = _orm(tenant, agent)

    # By hand: 5 calls × 3 points; the week's 4 calls × 3 = 12; today's 3 × 3 + 5 − 2 = 12.
    assert game.points == {"lifetime": 18, "day": 12, "week": 15, "month": 18} == totals
    assert [(b.code, b.name, b.icon, b.awarded_at) for b in game.badges] == badges
    assert sorted(b.code for b in game.badges) == ["first-call", "two-calls"]
    assert [
        (a.rule_name, a.kpi, a.rule_period, a.period_start, a.day, a.points) for a in game.awards
    ] == awards
    assert [(a.rule_name, a.day, a.points) for a in game.awards] == [
        ("Alpha per call", date(2026, 11, 11), 3),
        ("Beta per call", date(2026, 11, 11), 6),
        ("Alpha per call", date(2026, 11, 10), 1),
        ("Beta per call", date(2026, 11, 10), 2),
    ]
    assert [(a.reason, a.day, a.points, a.created_at) for a in game.adjustments] == adjustments
    assert [a.reason for a in game.adjustments] == ["Late", "Helped"]


def test_agent_game_without_a_window_reads_totals_and_badges_only(tenant, agent):
    game = selectors.agent_game(tenant=tenant, agent_id=agent.pk, badges=5)
    assert game.points == {"lifetime": 0, "day": 0, "week": 0, "month": 0}
    assert game.badges == game.awards == game.adjustments == []
