import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import SCOPES
from accounts.services import api_key_create, tenant_create
from accounts.tenant_templates import tenant_template, tenant_template_names
from core.errors import InvalidInputError


class Command(BaseCommand):
    help = "Create a tenant and its first API key (all scopes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--timezone", default="UTC", help="IANA name, e.g. Asia/Shanghai")
        parser.add_argument("--slug", default=None)
        parser.add_argument("--week-start", type=int, default=0, help="0 = Monday … 6 = Sunday")
        parser.add_argument("--json", action="store_true", help="print JSON as the last line")
        parser.add_argument(
            "--template",
            default=None,
            help="start from a bundled game template (e.g. starter: the contact center starter)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 <= options["week_start"] <= 6:
            raise CommandError("--week-start must be 0 (Monday) to 6 (Sunday)")
        template = None
        if options["template"] is not None:
            template = tenant_template(options["template"])
            if template is None:
                known = ", ".join(tenant_template_names()) or "none"
                raise CommandError(f"No template {options['template']!r} (known: {known}).")
        try:
            # The tenant and its template, or neither.
            with transaction.atomic():
                tenant = tenant_create(
                    name=options["name"],
                    timezone_name=options["timezone"],
                    slug=options["slug"],
                    week_start=options["week_start"],
                )
                if template is not None:
                    template(tenant)
        except InvalidInputError as exc:
            raise CommandError(str(exc.detail)) from exc
        _, raw = api_key_create(tenant=tenant, scopes=SCOPES, name="bootstrap")
        if options["json"]:
            self.stdout.write(json.dumps({"tenant": tenant.slug, "api_key": raw}))
        else:
            self.stdout.write(f"Tenant {tenant.slug!r} created ({tenant.timezone}).")
            self.stdout.write(f"API key (shown once): {raw}")
