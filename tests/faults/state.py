"""Derived state read straight from the database, to compare with what a rebuild derives.

The fault tests run in the pytest process against the same database as the stack they
break, so after the stack settled they snapshot the tenant's derived rows, rebuild them from
raw events in-process, and compare: incremental (with the fault) == rebuild (without it)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from accounts.models import Agent, Tenant
from core.locks import APPLY_LOCK
from gamify.game.models import AgentDayPoints, AgentGameState, BadgeAward, PointAward
from gamify.game.services import game_rebuild
from gamify.leaderboards.boards import plain_number, rank, standings
from gamify.leaderboards.service import current_periods, period_board
from gamify.wallet.models import LedgerEntry, Wallet
from kpis.ingest.rebuild import buckets_rebuild
from kpis.models import (
    AgentDay,
    AgentHour,
    AgentMetricHour,
    TeamDay,
    TeamHour,
    TeamMetricHour,
)

BUCKETS = (AgentHour, TeamHour, AgentDay, TeamDay, AgentMetricHour, TeamMetricHour)


def bucket_rows(tenant: Tenant) -> dict[str, set[tuple[Any, ...]]]:
    return {
        model.__name__: set(model.objects.filter(tenant=tenant).values_list()) for model in BUCKETS
    }


def game_rows(tenant: Tenant) -> dict[str, set[tuple[Any, ...]]]:
    """Points, levels, badges and coins; ids left out (a rebuild writes new rows)."""
    return {
        "PointAward": set(
            PointAward.objects.filter(tenant=tenant).values_list(
                "rule_id", "agent_id", "period_start", "day", "points", "finalized"
            )
        ),
        "AgentDayPoints": set(
            AgentDayPoints.objects.filter(tenant=tenant).values_list("agent_id", "day", "points")
        ),
        "AgentGameState": set(
            AgentGameState.objects.filter(tenant=tenant).values_list(
                "agent_id", "lifetime_points", "level", "highest_level"
            )
        ),
    }


def ledger_rows(tenant: Tenant) -> dict[str, list[tuple[Any, ...]]]:
    """Append-only state: each row must exist once, so these are lists, not sets."""
    return {
        "BadgeAward": sorted(
            BadgeAward.objects.filter(tenant=tenant).values_list(
                "badge_id", "agent_id", "period_key"
            )
        ),
        "LedgerEntry": sorted(
            LedgerEntry.objects.filter(tenant=tenant).values_list(
                "agent_id", "kind", "amount", "idempotency_key"
            )
        ),
        "Wallet": sorted(Wallet.objects.filter(tenant=tenant).values_list("agent_id", "balance")),
    }


def rebuild(tenant: Tenant) -> None:
    """`manage.py rebuild` for one tenant, in-process (its follow-up apply runs eagerly)."""
    buckets_rebuild(tenant=tenant)
    game_rebuild(tenant=tenant)


def sql_board(tenant: Tenant, metric: str, kind: str = "day") -> list[tuple[Any, ...]]:
    """The current `kind` board of agents as SQL computes it: rank, agent, value, volume."""
    period = next(p for p in current_periods(tenant) if p.type == kind)
    ranked, _ = rank(standings(period_board(tenant, metric, period)))
    return [
        (e.rank, e.external_id, None if e.value is None else plain_number(e.value),
         plain_number(e.volume))
        for e in ranked
    ]  # fmt: skip


def agent_ids(tenant: Tenant) -> dict[str, int]:
    return dict(Agent.objects.filter(tenant=tenant).values_list("external_id", "id"))


def apply_lock_holder(tenant: Tenant) -> int | None:
    """The PostgreSQL backend holding the tenant's apply lock (a worker applying), if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid = %s AND objsubid = 2",
            [APPLY_LOCK, tenant.pk],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None
