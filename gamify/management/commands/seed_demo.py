"""Seed the demo tenant that `make run` serves. Safe to run again: it converges, never doubles."""

from __future__ import annotations

from io import StringIO
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.api.auth import widget_token_mint
from accounts.models import SCOPES, Agent, ApiKey, Membership, Team, Tenant
from accounts.services import agent_upsert, api_key_create, team_upsert, tenant_create
from gamify.coaching.demo import seed_coaching
from gamify.contests.demo import seed_contests
from gamify.game.demo import seed_game
from gamify.game.finalization import periods_finalize_due
from gamify.wallet.demo import seed_wallet

DEMO_SLUG = "demo"
DEMO_PASSWORD = "gamify-demo"  # noqa: S105 - the demo's published login, printed by make run
TEAMS = [
    ("support", "Customer Support", None),
    ("support-t1", "Support Tier 1", "support"),
    ("support-t2", "Support Tier 2", "support"),
    ("sales", "Sales & Retention", None),
]
AGENT_NAMES = [
    "Alice Martin",
    "Bao Chen",
    "Carmen Díaz",
    "Darius Rahimi",
    "Emma Schulz",
    "Farid Nazari",
    "Grace Liu",
    "Hassan Karimi",
    "Ines Costa",
    "Jun Wang",
    "Kate O'Brien",
    "Li Na",
    "Mateo Rossi",
    "Nadia Hosseini",
    "Oscar Berg",
    "Priya Patel",
    "Quentin Moreau",
    "Rana Tehrani",
    "Sofia Lindqvist",
    "Tomás Silva",
    "Uma Reddy",
    "Victor Huang",
    "Wen Zhao",
    "Yasmin Farahani",
]
LOCALES = [
    "en",
    "zh-Hans",
    "en",
    "fa",
    "en",
    "fa",
    "zh-Hant",
    "fa",
    "en",
    "zh-Hans",
    "en",
    "zh-Hans",
]


class Command(BaseCommand):
    help = "Create or refresh the demo tenant (teams, agents, managers) and print how to use it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agents", type=int, default=24)
        parser.add_argument("--days", type=int, default=14, help="days of simulated traffic")
        parser.add_argument("--quiet", action="store_true")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="for the summary")

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            tenant = Tenant.objects.filter(slug=DEMO_SLUG).first() or tenant_create(
                name="Demo Contact Center", timezone_name="Asia/Shanghai", slug=DEMO_SLUG
            )
            for external_id, name, parent in TEAMS:
                team_upsert(
                    tenant=tenant, external_id=external_id, name=name, parent_external_id=parent
                )
            leaf_teams = ["support-t1", "support-t2", "sales"]
            count = max(1, options["agents"])
            for n in range(count):
                name = AGENT_NAMES[n % len(AGENT_NAMES)]
                if n >= len(AGENT_NAMES):
                    name = f"{name} {n // len(AGENT_NAMES) + 1}"
                agent_upsert(
                    tenant=tenant,
                    external_id=f"agent-{n + 1:03d}",
                    display_name=name,
                    team_external_id=leaf_teams[n % len(leaf_teams)],
                    locale=LOCALES[n % len(LOCALES)],
                )
            User = get_user_model()
            admin, _ = User.objects.get_or_create(username="admin")
            admin.is_staff = admin.is_superuser = True
            admin.set_password(DEMO_PASSWORD)
            admin.save()
            manager, _ = User.objects.get_or_create(username="manager")
            manager.is_staff, manager.is_superuser = True, False
            manager.set_password(DEMO_PASSWORD)
            manager.save()
            Membership.objects.update_or_create(
                user=manager, tenant=tenant, defaults={"role": Membership.Role.MANAGER}
            )
            # Keys are stored hashed, so each run mints a fresh key and retires the previous one.
            ApiKey.objects.filter(tenant=tenant, name="demo (make run)").update(revoked=True)
            _, raw_key = api_key_create(tenant=tenant, scopes=SCOPES, name="demo (make run)")
        seed_game(tenant)
        if options["days"]:
            # Simulated traffic through the ingestion service; seeded, so re-runs add nothing
            # but the hours that passed since.
            call_command(
                "simulate",
                tenant=tenant.slug,
                agents=count,
                days=options["days"],
                stdout=self.stdout if not options["quiet"] else StringIO(),
            )
        # Freeze the finished days now rather than at the first periodic run, so the demo shows
        # the badges judged on whole periods from the start.
        periods_finalize_due(tenant=tenant, limit=1000)
        seed_contests(tenant)
        seed_wallet(tenant)
        seed_coaching(tenant)
        self.tenant, self.raw_key = tenant, raw_key
        if not options["quiet"]:
            self.print_summary(tenant, raw_key, options["base_url"].rstrip("/"))

    def print_summary(self, tenant: Tenant, raw_key: str, base: str) -> None:
        lines = [
            "",
            f"Demo tenant '{tenant.slug}' ({tenant.timezone}) is ready.",
            f"  Admin:    {base}/admin/   login admin / {DEMO_PASSWORD} (superuser)",
            f"            or manager / {DEMO_PASSWORD} (sees only the demo tenant)",
            f"  API docs: {base}/api/docs/",
            f"  API key:  {raw_key}",
            f'  Try:      curl -H "Authorization: Bearer {raw_key}" {base}/api/v1/agents',
            "",
            *self.widget_lines(tenant, base),
        ]
        self.stdout.write("\n".join(lines))

    def widget_lines(self, tenant: Tenant, base: str) -> list[str]:
        """A working URL per widget page, for a seeded agent and team (tokens valid 24 h)."""
        agent = Agent.objects.for_tenant(tenant).filter(external_id=DEMO_AGENT).first()
        team = Team.objects.for_tenant(tenant).filter(external_id=DEMO_TEAM).first()
        if agent is None or team is None:
            return []
        self.widget_urls = widget_urls(base, agent, team)
        return [
            f"Widgets for {agent.display_name} ({agent.external_id}) and team {team.name}, "
            "valid 24 h (run `make run` again for fresh ones):",
            *(f"  {name + ':':<13} {url}" for name, url in self.widget_urls.items()),
            "",
        ]


DEMO_AGENT, DEMO_TEAM = "agent-001", "support-t1"


def widget_urls(base: str, agent: Agent, team: Team) -> dict[str, str]:
    day = 86400
    agent_token, _ = widget_token_mint(agent=agent, ttl_seconds=day)
    team_token, _ = widget_token_mint(team=team, ttl_seconds=day)
    return {
        "Agent card": f"{base}/widgets/agent?token={agent_token}",
        "(Persian)": f"{base}/widgets/agent?token={agent_token}&lang=fa",
        "Leaderboard": f"{base}/widgets/leaderboard?token={agent_token}&metric=points&period=week",
        "Store": f"{base}/widgets/store?token={agent_token}",
        "Wallboard": f"{base}/widgets/wallboard?token={team_token}",
    }
