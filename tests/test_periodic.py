"""The beat schedule is registered once and run_periodic runs it in-process."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from accounts.models import IdempotencyRecord
from config.celery import app

pytestmark = pytest.mark.django_db


def test_every_scheduled_task_exists():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


def test_celery_is_json_only_and_acks_late():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit


def test_run_periodic_once_runs_the_jobs(tenant):
    IdempotencyRecord.objects.create(
        tenant=tenant,
        credential="c",
        key="k",
        fingerprint="f",
        created_at=timezone.now() - timedelta(days=2),
    )
    with time_machine.travel(timezone.now()):
        call_command("run_periodic", "--once", stdout=StringIO())
    assert not IdempotencyRecord.objects.exists()
