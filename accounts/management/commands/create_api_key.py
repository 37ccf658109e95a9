import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Tenant
from accounts.services import api_key_create
from core.errors import InvalidInputError


class Command(BaseCommand):
    help = "Create an API key for a tenant with the given scopes (ingest, read, manage)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--scopes", default="ingest,read,manage")
        parser.add_argument("--name", default="API key")
        parser.add_argument("--json", action="store_true", help="print JSON as the last line")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            key, raw = api_key_create(tenant=tenant, scopes=scopes, name=options["name"])
        except InvalidInputError as exc:
            raise CommandError(str(exc.detail)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"tenant": tenant.slug, "api_key": raw}))
        else:
            self.stdout.write(f"API key for {tenant.slug} ({', '.join(key.scopes)}): {raw}")
