"""Stamp the widget versions (versions.py) after every committed change a page shows."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Agent, Tenant
from gamify.contests.models import Contest
from gamify.game.models import PointAdjustment
from gamify.wallet.models import LedgerEntry, Redemption, Reward
from gamify.widgets import versions
from kpis.signals import buckets_changed


@receiver(buckets_changed, dispatch_uid="widgets.after_buckets_changed")
def after_buckets_changed(
    sender: Any,
    *,
    tenant: Tenant,
    agent_days: dict[int, set[date]],
    everything: bool,
    **kwargs: Any,
) -> None:
    tenant_id, agents = tenant.pk, list(agent_days)
    transaction.on_commit(lambda: versions.bump(tenant_id, agents, everything=everything))


@receiver(post_save, sender=LedgerEntry, dispatch_uid="widgets.ledger_saved")
@receiver(post_save, sender=PointAdjustment, dispatch_uid="widgets.adjustment_saved")
@receiver(post_save, sender=Redemption, dispatch_uid="widgets.redemption_saved")
def agent_row_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    tenant_id, agent_id = instance.tenant_id, instance.agent_id
    transaction.on_commit(lambda: versions.bump(tenant_id, [agent_id]))


@receiver(post_save, sender=Reward, dispatch_uid="widgets.reward_saved")
@receiver(post_delete, sender=Reward, dispatch_uid="widgets.reward_deleted")
@receiver(post_save, sender=Contest, dispatch_uid="widgets.contest_saved")
@receiver(post_save, sender=Agent, dispatch_uid="widgets.agent_saved")
def tenant_row_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    tenant_id = instance.tenant_id
    transaction.on_commit(lambda: versions.bump(tenant_id, everything=True))
