"""gamify's subscriptions: the one hook from kpis, and agents' changes for live boards.

The main flow after buckets change, in order (explicit calls, not a chain of signals):
points, levels and badges (game engine) → live leaderboards → running contests.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts.models import Agent, AgentHistory, Team, Tenant
from accounts.selectors import team_descendants
from gamify.coaching.evaluation import coaching_follow
from gamify.contests.services import (
    contest_boards_fill_wanted,
    running_contests_populate,
    running_contests_refresh,
)
from gamify.game.engine import game_recompute
from gamify.game.services import game_rebuild
from gamify.leaderboards import live
from gamify.leaderboards.service import boards_fill_wanted, boards_populate_all, boards_refresh
from kpis.ingest import changes_announce
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
    try:
        _follow(tenant, agent_days, everything)
    except Exception:
        # The apply task rolls this attempt back and sets the batch aside. Live boards written
        # on the way may hold the rolled-back values: they are refilled from SQL when next read.
        with live.tolerated(f"unready boards of tenant {tenant.pk}"):
            live.unready_tenant(tenant.pk)
        raise


def _follow(tenant: Tenant, agent_days: dict[int, set[date]], everything: bool) -> None:
    if everything:
        # Buckets were rebuilt or the game's configuration changed: the game is recomputed
        # from scratch, and so are the live boards and running contests' standings.
        game_rebuild(tenant=tenant)
        boards_populate_all(tenant=tenant)
        running_contests_populate(tenant=tenant)
        coaching_follow(tenant=tenant, agent_days=agent_days, everything=True)
        _fill_wanted(tenant)
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
    # Goals and alerts judge the days that changed (not today's points-only refresh).
    coaching_follow(tenant=tenant, agent_days=agent_days, everything=False)
    _fill_wanted(tenant)


def _fill_wanted(tenant: Tenant) -> None:
    """Boards read while not live are filled here, under the apply lock this run holds: their
    populate tasks can wait behind apply runs for as long as ingestion goes on."""
    wanted: list[str] = []
    with live.tolerated(f"boards wanted by tenant {tenant.pk}"):
        wanted = live.wanted_take(tenant.pk)
    if wanted:
        boards_fill_wanted(tenant=tenant, keys=wanted)
        contest_boards_fill_wanted(tenant=tenant, keys=wanted)


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


@receiver(post_save, sender=AgentHistory, dispatch_uid="gamify.agent_moved")
def agent_moved(sender: Any, instance: AgentHistory, created: bool, **kwargs: Any) -> None:
    """An agent changed team or was (re)activated: their standing today follows, by the
    outbox, under the apply lock — a reactivated agent is back on the live boards, one who
    moved enters or leaves the running contests of a team. A new agent has none to follow."""
    if not created or raw_save(kwargs):
        return
    earlier = AgentHistory.objects.filter(
        tenant_id=instance.tenant_id, agent_id=instance.agent_id, pk__lt=instance.pk
    )
    if not earlier.exists():
        return
    tenant = Tenant.objects.get(pk=instance.tenant_id)
    changes_announce(tenant=tenant, agent_days={instance.agent_id: {local_today(tenant)}})


def raw_save(kwargs: dict[str, Any]) -> bool:
    return bool(kwargs.get("raw"))  # loading a fixture


@receiver(pre_save, sender=Team, dispatch_uid="gamify.team_parent_before")
def team_parent_before(sender: Any, instance: Team, **kwargs: Any) -> None:
    instance._parent_before = (  # type: ignore[attr-defined]
        Team.objects.filter(tenant_id=instance.tenant_id, pk=instance.pk)
        .values_list("parent_id", flat=True)
        .first()
        if instance.pk is not None and not raw_save(kwargs)
        else instance.parent_id
    )


@receiver(post_save, sender=Team, dispatch_uid="gamify.team_reparented")
def team_reparented(sender: Any, instance: Team, created: bool, **kwargs: Any) -> None:
    """A team moved under another parent: the agents of its subtree enter or leave running
    contests of a team above it (participants are the teams' current subtrees)."""
    if created or raw_save(kwargs):
        return
    if getattr(instance, "_parent_before", instance.parent_id) == instance.parent_id:
        return
    tenant = Tenant.objects.get(pk=instance.tenant_id)
    subtree = team_descendants(tenant=tenant, team_id=instance.pk)
    agents = Agent.objects.for_tenant(tenant).filter(team_id__in=subtree)
    today = local_today(tenant)
    moved = {pk: {today} for pk in agents.values_list("id", flat=True)}
    if moved:
        changes_announce(tenant=tenant, agent_days=moved)
