"""One batch the apply task cannot apply is set aside with its error — visible in
/ingest/status and /metrics, retried later — and never holds back the batches behind it.

The bad batches here are what an older version accepted (an event dated year 1, before events
were bounded) or a damaged outbox row: real rows in PostgreSQL, applied by the real task.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.services import tenant_create
from gamify.game import services as game
from gamify.game.models import AgentDayPoints
from kpis import buckets, schemas
from kpis.ingest import batches_apply, event_void, events_ingest
from kpis.models import IngestBatch, RawEvent
from kpis.tasks import sweep_pending

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai


def call(n: int, at: str = "2026-11-20T09:15:00+08:00", agent: str = "a1") -> dict:
    return {
        "event_id": f"c{n}", "type": "interaction", "occurred_at": at, "agent": agent,
        "answered": True, "talk_seconds": 60,
    }  # fmt: skip


def per_contact_rule(tenant) -> None:
    game.point_rule_create(
        tenant=tenant,
        values={"name": "per contact", "kpi": "contacts_handled", "kind": "per_unit",
                "points": 2, "period": "day"},
    )  # fmt: skip
    batches_apply(tenant_id=tenant.pk)


def points(tenant, agent: str = "a1") -> int:
    return sum(
        AgentDayPoints.objects.filter(tenant=tenant, agent__external_id=agent).values_list(
            "points", flat=True
        )
    )


@pytest.fixture
def legacy_event(monkeypatch):
    """Store one event dated year 1, as the code did before events were bounded."""

    def store(tenant, event_id: str = "old") -> None:
        with monkeypatch.context() as patch:
            patch.setattr(schemas, "EARLIEST_TIME", datetime(1, 1, 1, tzinfo=UTC))
            result = events_ingest(
                tenant=tenant, items=[{**call(0, "0001-01-01T13:00:00Z"), "event_id": event_id}]
            )
        assert result.accepted == 1, result.rejected

    return store


def damaged_batch(tenant, agent_id: int) -> IngestBatch:
    """An outbox row whose touched days cannot be read."""
    return IngestBatch.objects.create(
        tenant=tenant,
        created_at=NOW,
        accepted=3,
        touched={"agents": {str(agent_id): ["2026-13-45"]}},
    )


def test_an_event_stored_at_year_one_no_longer_stops_the_tenant(tenant, agent, api, legacy_event):
    with time_machine.travel(NOW, tick=False):
        per_contact_rule(tenant)
        legacy_event(tenant)
        assert batches_apply(tenant_id=tenant.pk) == "applied 1 batches"
        events_ingest(tenant=tenant, items=[call(1), call(2)])
        assert batches_apply(tenant_id=tenant.pk) == "applied 1 batches"
        status = api.get("/api/v1/ingest/status").json()
        assert (status["pending"], status["failed"], status["failed_batches"]) == (0, 0, [])
        # Today's two calls earn 2 points each; year 1 is outside the span games are kept in.
        assert points(tenant) == 4
        # Its KPIs are still there to see and void; the void applies too.
        event_void(tenant=tenant, event_id="old")
        assert batches_apply(tenant_id=tenant.pk) == "applied 1 batches"


def test_a_rebuild_of_every_tenant_survives_an_event_of_year_one(tenant, agent, legacy_event):
    with time_machine.travel(NOW, tick=False):
        per_contact_rule(tenant)
        legacy_event(tenant)
        events_ingest(tenant=tenant, items=[call(1)])
        later = tenant_create(name="Zulu", timezone_name="Asia/Tokyo", slug="zulu")
        events_ingest(tenant=later, items=[call(5, agent="z1")])
        call_command("rebuild", "--no-progress")
        assert points(tenant) == 2
        assert not IngestBatch.objects.filter(applied_at__isnull=True).exists()
        # The tenant after the one with the old event was rebuilt as well.
        assert IngestBatch.objects.filter(tenant=later, source="recompute").exists()
        # Finalizing starts at 2000, not year 1 (which overflowed, or looped for 2000 years).
        call_command("rebuild", "--tenant", "acme", "--no-progress")


def test_a_batch_that_cannot_be_applied_is_set_aside_and_the_rest_go_on(tenant, agent, api, caplog):
    with time_machine.travel(NOW, tick=False):
        per_contact_rule(tenant)
        events_ingest(tenant=tenant, items=[call(1)])
        bad = damaged_batch(tenant, agent.pk)
        events_ingest(tenant=tenant, items=[call(2), call(3)])
        with caplog.at_level(logging.WARNING, logger="kpis.ingest.apply"):
            assert batches_apply(tenant_id=tenant.pk) == "applied 2 batches, 1 failed"
        # Each failed attempt is in the log with its error: the group of three, the half of
        # two holding the bad one, then the bad one alone (set aside).
        attempts = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
        assert attempts == [
            ("WARNING", f"Applying 3 batches of tenant {tenant.slug} together failed; "
                        "each half on its own", True),
            ("WARNING", f"Applying 2 batches of tenant {tenant.slug} together failed; "
                        "each half on its own", True),
            ("ERROR", f"Batch {bad.pk} of tenant {tenant.slug} could not be applied (attempt 1); "
                      "retrying from 2026-11-20 08:01:00+00:00", True),
        ]  # fmt: skip
        assert points(tenant) == 6  # all three calls, whatever sits between them

        status = api.get("/api/v1/ingest/status").json()
        assert status["pending"] == 0
        assert status["oldest_pending_at"] is None
        assert status["failed"] == 3
        [failed] = status["failed_batches"]
        assert failed["id"] == bad.pk
        assert failed["events"] == 3
        assert failed["attempts"] == 1
        assert failed["error"].startswith("ValueError: ")
        assert failed["retry_at"] == "2026-11-20T08:01:00Z"  # a minute later, then longer

        metrics = api.get("/metrics").content.decode()
        assert "gamify_ingest_failed_batches 1.0" in metrics
        assert "gamify_ingest_failed_events 3.0" in metrics
        failures = re.search(r"^gamify_apply_failures_total (\S+)$", metrics, re.M)
        assert failures is not None
        assert float(failures[1]) >= 1  # a process-wide counter: other tests add to it

        # Later batches are not held back by it, and the sweeper leaves it alone until due.
        events_ingest(tenant=tenant, items=[call(4)])
        assert batches_apply(tenant_id=tenant.pk) == "applied 1 batches"
        assert sweep_pending() == "0 apply, 0 recompute, 0 import"

    with time_machine.travel(NOW + timedelta(minutes=1, seconds=1), tick=False):
        assert "1 apply" in sweep_pending()  # due again: the sweeper sends it (eagerly here)
        bad.refresh_from_db()
        assert (bad.attempts, bad.applied_at) == (2, None)
        assert bad.retry_at == NOW + timedelta(minutes=1, seconds=1) + timedelta(minutes=2)


def test_a_set_aside_batch_is_retried_at_once_after_a_fix(tenant, agent, api):
    with time_machine.travel(NOW, tick=False):
        per_contact_rule(tenant)
        bad = damaged_batch(tenant, agent.pk)
        assert batches_apply(tenant_id=tenant.pk) == "nothing pending, 1 failed"
        # The operator repairs the row, then a void (or a rebuild) has it tried again now.
        IngestBatch.objects.filter(pk=bad.pk).update(
            touched={"agents": {str(agent.pk): ["2026-11-20"]}}
        )
        events_ingest(tenant=tenant, items=[call(1)])
        event_void(tenant=tenant, event_id="c1")
        assert batches_apply(tenant_id=tenant.pk) == "applied 3 batches"
        status = api.get("/api/v1/ingest/status").json()
        assert (status["failed"], status["failed_batches"]) == (0, [])


def test_a_rebuild_settles_batches_set_aside_before_it(tenant, agent):
    with time_machine.travel(NOW, tick=False):
        per_contact_rule(tenant)
        events_ingest(tenant=tenant, items=[call(1)])
        bad = damaged_batch(tenant, agent.pk)
        batches_apply(tenant_id=tenant.pk)
        call_command("rebuild", "--tenant", "acme", "--no-progress")
        bad.refresh_from_db()
        assert bad.applied_at is not None  # everything was recomputed after it
        assert "ValueError" in bad.error  # what happened stays on the row
        assert points(tenant) == 2


def test_one_tenants_bad_batch_does_not_touch_another_tenant(tenant, agent, outsider):
    with time_machine.travel(NOW, tick=False):
        damaged_batch(tenant, agent.pk)
        events_ingest(tenant=outsider, items=[call(1, agent="x1")])
        assert batches_apply(tenant_id=outsider.pk) == "applied 1 batches"
        assert batches_apply(tenant_id=tenant.pk) == "nothing pending, 1 failed"


def test_a_rebuild_of_all_tenants_goes_on_past_one_that_fails(tenant, agent, outsider):
    with time_machine.travel(NOW, tick=False):
        events_ingest(tenant=tenant, items=[call(1)])
        events_ingest(tenant=outsider, items=[call(2, agent="x1")])
        # A damaged raw row (a duration that is not a number) cannot be folded.
        RawEvent.objects.filter(tenant=tenant).update(
            payload={"answered": True, "talk_seconds": "long"}
        )
        out, err = io.StringIO(), io.StringIO()
        with pytest.raises(CommandError, match="1 of 2 tenants failed: acme"):
            call_command("rebuild", "--no-progress", stdout=out, stderr=err)
        assert "outsider: 1 events" in out.getvalue()
        assert "acme: rebuild failed" in err.getvalue()
        assert IngestBatch.objects.filter(tenant=outsider, source="recompute").exists()
        assert not IngestBatch.objects.filter(tenant=tenant, source="recompute").exists()


def test_a_run_that_finds_another_in_progress_returns_and_leaves_it_the_batches(tenant, agent):
    """A second apply task of the tenant's does not hold its worker waiting for the first:
    the run in progress (here, another session's) applies what is pending."""
    with time_machine.travel(NOW, tick=False):
        per_contact_rule(tenant)
        events_ingest(tenant=tenant, items=[call(1)])
        db = connection.settings_dict
        elsewhere = psycopg.connect(
            dbname=db["NAME"], host=db["HOST"], port=db["PORT"], user=db["USER"], autocommit=True
        )
        try:
            elsewhere.execute(
                "SELECT pg_advisory_lock(%s, %s)", [buckets.APPLY_RUN_LOCK, tenant.pk]
            )
            assert batches_apply(tenant_id=tenant.pk) == "another run is applying"
            assert IngestBatch.objects.filter(tenant=tenant, applied_at__isnull=True).count() == 1
            assert points(tenant) == 0
            # That run ends. (Closing its connection would release the lock too, but only
            # once the server has noticed, which may be after the next line.)
            elsewhere.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [buckets.APPLY_RUN_LOCK, tenant.pk]
            )
        finally:
            elsewhere.close()
        assert batches_apply(tenant_id=tenant.pk) == "applied 1 batches"
        assert points(tenant) == 2
        # This run let its lock go: the next one is not turned away.
        events_ingest(tenant=tenant, items=[call(2)])
        assert batches_apply(tenant_id=tenant.pk) == "applied 1 batches"
