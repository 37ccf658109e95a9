"""`manage.py import_events FILE --tenant SLUG`: ingest a CSV or NDJSON file of events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Tenant
from kpis.services.imports import csv_items, import_file, ndjson_items


class Command(BaseCommand):
    help = (
        "Import events from a CSV (header row of event fields) or NDJSON file through the same "
        "validation and idempotency as POST /events. Prints totals; --json prints them as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--format", choices=["csv", "ndjson"], help="default: by extension")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}")
        kind = options["format"] or ("csv" if path.suffix.lower() == ".csv" else "ndjson")
        with path.open(encoding="utf-8", newline="") as handle:
            items = csv_items(handle) if kind == "csv" else ndjson_items(handle)
            totals = import_file(tenant=tenant, items=items)
        if options["json"]:
            self.stdout.write(json.dumps(totals))
            return
        self.stdout.write(
            f"{totals['lines']} lines: {totals['accepted']} accepted, "
            f"{totals['duplicates']} duplicates, {len(totals['rejected'])} rejected"
        )
        for rejection in totals["rejected"][:50]:
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in rejection["errors"].items())
            self.stdout.write(f"  line {rejection['line']}: {errors}")
