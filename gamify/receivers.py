"""gamify's subscriptions: the one hook from kpis, and agents' changes for live boards.

The main flow after buckets change, in order (explicit calls, not a chain of signals):
points, levels and badges (game engine) → live leaderboards → running contests.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Agent, Tenant
from gamify.contests.services import running_contests_refresh
from gamify.game.engine import game_recompute
from gamify.game.services import game_rebuild
from gamify.leaderboards import live
from gamify.leaderboards.service import boards_populate_all, boards_refresh
from kpis.periods import local_today
from kpis.signals import buckets_changed


@receiver(buckets_changed, dispatch_uid="gamify.after_buckets_changed")
def after_buckets_changed(
    sender: Any,
    *,
    tenant: Tenant,
    agent_days: dict[int, set[date]],
    team_days: dict[int, set[date]],
    everything: bool,
    **kwargs: Any,
) -> None:
    # Runs inside batches_apply's transaction, under the tenant's apply lock.
    if everything:
        # Buckets were rebuilt or recomputed: so is the game, from scratch, and the live boards.
        game_rebuild(tenant=tenant)
        boards_populate_all(tenant=tenant)
        return
    outcome = game_recompute(tenant=tenant, agent_days=agent_days)
    # Points can move today for agents whose older days changed (a weekly rule counts on the
    # week's last day): refresh everyone the engine touched for today as well.
    today = local_today(tenant)
    touched = {agent: set(days) for agent, days in agent_days.items()}
    for agent in outcome.agents:
        touched.setdefault(agent, set()).add(today)
    boards_refresh(tenant=tenant, agent_days=touched)
    running_contests_refresh(tenant=tenant, agent_ids=set(touched))


@receiver(post_save, sender=Agent, dispatch_uid="gamify.agent_saved")
def agent_saved(sender: Any, instance: Agent, **kwargs: Any) -> None:
    """Keep live boards' names fresh and drop deactivated agents from them."""
    if not live.available():
        return
    tenant_id, agent_id = instance.tenant_id, instance.pk
    external_id, name, active = instance.external_id, instance.display_name, instance.active

    def apply() -> None:
        live.rename(tenant_id, "agent", agent_id, external_id, name)
        if not active:
            live.forget_agent(tenant_id, agent_id)

    transaction.on_commit(apply, robust=True)
