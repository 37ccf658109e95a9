import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Tenant
from gamify.game_templates.document import GameDocumentInvalid, bundled_names, game_import


class Command(BaseCommand):
    help = (
        "Check a game document whole, then apply it to a tenant in one transaction (or "
        "nothing, listing every error by its path in the document)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        parser.add_argument(
            "file", help=f"a JSON file, or a bundled template: {', '.join(bundled_names())}"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}.")
        try:
            with open(options["file"], encoding="utf-8") as source:
                document = json.load(source)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{options['file']} is not JSON: {exc}") from exc
        try:
            counts = game_import(tenant=tenant, document=document)
        except GameDocumentInvalid as exc:
            lines = [f"  {path}: {'; '.join(messages)}" for path, messages in exc.errors.items()]
            raise CommandError("Nothing imported:\n" + "\n".join(lines)) from exc
        summary = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
        self.stdout.write(f"Imported into {tenant.slug}: {summary or 'nothing'}.")
