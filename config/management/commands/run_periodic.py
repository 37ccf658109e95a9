"""Run the beat schedule in-process: the embedded default's stand-in for `celery beat`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from celery.schedules import maybe_schedule
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from config.celery import app


class Command(BaseCommand):
    help = "Run the periodic jobs of CELERY_BEAT_SCHEDULE in this process (no broker needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run every job once and exit")
        parser.add_argument("--tick", type=float, default=1.0, help="seconds between checks")

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        app.loader.import_default_modules()  # registers every app's tasks
        entries = settings.CELERY_BEAT_SCHEDULE
        if options["once"]:
            for name, entry in entries.items():
                self.run(name, entry)
            return
        started = timezone.now()
        last_run: dict[str, datetime] = dict.fromkeys(entries, started)
        self.stdout.write(f"run_periodic: {len(entries)} jobs: {', '.join(entries)}")
        while True:
            for name, entry in entries.items():
                schedule: Any = maybe_schedule(entry["schedule"], app=app)
                due, _ = schedule.is_due(last_run[name])
                if due:
                    last_run[name] = timezone.now()
                    self.run(name, entry)
            time.sleep(options["tick"])

    def run(self, name: str, entry: dict[str, Any]) -> None:
        task = app.tasks[entry["task"]]
        try:
            result = task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
            outcome = result.get(propagate=True)
        except Exception as exc:  # one failing job must not stop the others
            self.stderr.write(f"{name}: failed: {exc!r}")
        else:
            if self.verbosity > 1:
                self.stdout.write(f"{name}: {outcome}")
