"""Badge awards: the one way a badge is given, by the engine (monotone badges, points
milestones), period finalization (streaks, period counts) and contest finalization (places).

An award is given once per badge, agent and period key; its prize coins are credited through
the wallet exactly once (keyed by the award) and its activity recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from django.utils import timezone

from accounts.models import Tenant
from gamify.activity.services import NewActivity, activities_record
from gamify.game.models import Badge, BadgeAward
from gamify.wallet.services import wallet_credit


class Earned(NamedTuple):
    """A badge an agent earned: `period_key` tells repeatable awards apart ("" for a badge
    earned once), `data` is what the award and its activity show."""

    badge: Badge
    agent_id: int
    period_key: str
    data: dict[str, Any]


def badges_award(*, tenant: Tenant, earned: Iterable[Earned]) -> int:
    """Give badges not given yet (one per badge, agent and period key); credit their coins and
    record the activity. Returns how many were new."""
    earned = list(earned)
    if not earned:
        return 0
    existing = set(
        BadgeAward.objects.for_tenant(tenant)
        .filter(badge_id__in={e.badge.pk for e in earned})
        .values_list("badge_id", "agent_id", "period_key")
    )
    now = timezone.now()
    new: dict[tuple[int, int, str], BadgeAward] = {}
    for badge, agent, key, data in earned:
        if not badge.repeatable:
            key = ""
        if (badge.pk, agent, key) in existing or (badge.pk, agent, key) in new:
            continue
        new[(badge.pk, agent, key)] = BadgeAward(
            tenant=tenant,
            badge=badge,
            agent_id=agent,
            period_key=key,
            awarded_at=now,
            coins=badge.coins,
            data=data,
        )
    if not new:
        return 0
    BadgeAward.objects.bulk_create(new.values(), ignore_conflicts=True)
    # ignore_conflicts leaves primary keys unset: read back the rows this call inserted (its
    # timestamp) so that each award is credited exactly once, by whoever inserted it.
    awards = list(
        BadgeAward.objects.for_tenant(tenant)
        .filter(awarded_at=now, badge_id__in={k[0] for k in new})
        .select_related("badge")
    )
    credit_and_announce(tenant, awards)
    return len(awards)


def credit_and_announce(tenant: Tenant, awards: list[BadgeAward]) -> None:
    """Each new award's prize coins (once: keyed by the award) and its activity."""
    activities = []
    for award in awards:
        if award.coins:
            wallet_credit(
                tenant=tenant,
                agent_id=award.agent_id,
                amount=award.coins,
                kind="badge_prize",
                reference=f"badge:{award.badge.code}",
                idempotency_key=f"badge-award:{award.pk}",
            )
        activities.append(
            NewActivity(
                type="badge.awarded",
                key=f"badge:{award.pk}",
                agent_id=award.agent_id,
                occurred_at=award.awarded_at,
                data={
                    "badge": award.badge.code,
                    "name": award.badge.name,
                    "icon": award.badge.icon,
                    "coins": award.coins,
                    "period_key": award.period_key,
                    **award.data,
                },
            )
        )
    activities_record(tenant=tenant, items=activities)
