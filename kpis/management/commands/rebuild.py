"""Recompute every derived table from raw events: `manage.py rebuild [--tenant SLUG]`."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Tenant
from kpis.ingest import batches_apply, buckets_rebuild

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Recompute buckets (and everything derived from them) from raw events. Safe while "
        "ingestion goes on: each tenant's events wait for its rebuild, then apply on top."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="only this tenant (slug)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant with slug {options['tenant']!r}")
        show = not options["no_progress"] and sys.stderr.isatty()
        failed: list[str] = []
        for tenant in tenants:
            started = time.monotonic()

            def progress(done: int, total: int, slug: str = tenant.slug) -> None:
                if show:
                    width = 30
                    filled = width * done // max(total, 1)
                    bar = "#" * filled + "-" * (width - filled)
                    sys.stderr.write(f"\r{slug}: [{bar}] {done}/{total} events")
                    sys.stderr.flush()

            try:
                summary = buckets_rebuild(tenant=tenant, progress=progress)
                if show:
                    sys.stderr.write("\n")
                # Everything downstream recomputes from the rebuilt buckets right away, here.
                outcome = batches_apply(tenant_id=tenant.pk)
            except Exception as exc:  # one tenant's damaged data must not leave others stale
                log.exception("Rebuilding tenant %s failed", tenant.slug)
                self.stderr.write(f"{tenant.slug}: rebuild failed: {type(exc).__name__}: {exc}")
                failed.append(tenant.slug)
                continue
            self.stdout.write(
                f"{tenant.slug}: {summary.events} events → {summary.agent_hours} agent-hours, "
                f"{summary.team_hours} team-hours; downstream {outcome} "
                f"({time.monotonic() - started:.1f}s)"
            )
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(tenants)} tenants failed: {', '.join(failed)} "
                "(their buckets are as they were; see the errors above)"
            )
