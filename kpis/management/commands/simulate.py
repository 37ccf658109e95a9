"""`manage.py simulate --tenant SLUG --agents N --days D [--live]`: realistic demo traffic."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import Agent, Team, Tenant
from accounts.services import agent_upsert, team_upsert
from kpis.ingest import events_ingest
from kpis.periods import local_today
from kpis.simulation import live_events, profiles, simulate

BATCH = 1000


class Command(BaseCommand):
    help = (
        "Generate realistic contact-center traffic through the ingestion service: the tenant's "
        "first N active agents (more are created when needed), D days up to now, then with "
        "--live a trickle of new contacts every few seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--agents", type=int, default=24)
        parser.add_argument("--days", type=int, default=14)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--contacts", type=float, default=20.0, help="per agent per day")
        parser.add_argument("--live", action="store_true", help="keep a trickle flowing")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between ticks")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}")
        if options["agents"] < 1 or options["days"] < 0:
            raise CommandError("--agents must be ≥ 1 and --days ≥ 0")
        roster = self.roster(tenant, options["agents"])
        agents = profiles(roster, options["seed"])
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            result = events_ingest(tenant=tenant, items=batch)
            totals["accepted"] += result.accepted
            totals["duplicates"] += result.duplicates
            totals["rejected"] += len(result.rejected)
            batch.clear()

        if options["days"]:
            for event in simulate(
                agents,
                tz=tenant.tz,
                days=options["days"],
                end_day=local_today(tenant),
                seed=options["seed"],
                contacts=options["contacts"],
            ):
                batch.append(event)
                if len(batch) == BATCH:
                    flush()
            if batch:
                flush()
        self.stdout.write(
            f"Simulated {options['days']} days for {len(agents)} agents of {tenant.slug}: "
            f"{totals['accepted']} accepted, {totals['duplicates']} duplicates, "
            f"{totals['rejected']} rejected."
        )
        if not options["live"]:
            return
        per_tick = max(1, round(len(agents) * options["interval"] / 120))
        self.stdout.write(f"Live: ~{per_tick} contacts every {options['interval']}s (Ctrl-C stops)")
        while True:
            now = timezone.now()
            batch.extend(
                live_events(agents, tz=tenant.tz, now=now, count=per_tick, seed=options["seed"])
            )
            flush()
            time.sleep(options["interval"])

    def roster(self, tenant: Tenant, count: int) -> list[tuple[str, str | None]]:
        agents = list(
            Agent.objects.for_tenant(tenant)
            .filter(active=True)
            .select_related("team")
            .order_by("external_id")[:count]
        )
        missing = count - len(agents)
        if missing > 0:
            existing = Team.objects.for_tenant(tenant).filter(external_id__startswith="sim-team")
            teams = existing.count()
            for n in range(len(agents), count):
                team_id = f"sim-team-{n // 10 + 1:02d}"
                if n // 10 + 1 > teams:
                    team_upsert(
                        tenant=tenant,
                        external_id=team_id,
                        name=f"Simulated team {n // 10 + 1}",
                        parent_external_id=None,
                    )
                    teams += 1
                agent, _ = agent_upsert(
                    tenant=tenant,
                    external_id=f"sim-{n + 1:04d}",
                    display_name=f"Sim Agent {n + 1}",
                    team_external_id=team_id,
                )
                agents.append(agent)
        return [(a.external_id, a.team.external_id if a.team else None) for a in agents]
