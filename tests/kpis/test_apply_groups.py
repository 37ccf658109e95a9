"""How pending batches are applied together (issue 19, item 4's finding under fuzzing).

A fuzzer (or an admin editing rules in a hurry) piles up changes of the game's configuration,
each of which recomputes the whole game from the buckets. Consecutive ones are applied as one
recompute, and every group commits on its own, so the tenant's apply lock — which requests
such as point adjustments wait on — is held for one group at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import OperationalError

from gamify.game import services as game
from gamify.game.models import AgentDayPoints
from kpis.ingest import batches_apply, events_ingest
from kpis.models import IngestBatch
from kpis.signals import buckets_changed

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai


def call(n: int) -> dict:
    return {
        "event_id": f"c{n}", "type": "interaction", "occurred_at": "2026-11-20T09:15:00+08:00",
        "agent": "a1", "answered": True, "talk_seconds": 60,
    }  # fmt: skip


def rule(tenant, points: int) -> None:
    game.point_rule_create(
        tenant=tenant,
        values={"name": f"{points} per contact", "kpi": "contacts_handled", "kind": "per_unit",
                "points": points, "period": "day"},
    )  # fmt: skip


@pytest.fixture
def announced():
    """What each applied group announced: True for a recompute of everything."""
    seen: list[bool] = []

    def receiver(sender, *, everything: bool, **kwargs) -> None:
        seen.append(everything)

    buckets_changed.connect(receiver, dispatch_uid="test.announced")
    yield seen
    buckets_changed.disconnect(dispatch_uid="test.announced")


def points(tenant) -> int:
    return sum(AgentDayPoints.objects.filter(tenant=tenant).values_list("points", flat=True))


def test_consecutive_rule_changes_are_one_recompute(tenant, agent, announced):
    with time_machine.travel(NOW, tick=False):
        events_ingest(tenant=tenant, items=[call(1), call(2), call(3)])
        batches_apply(tenant_id=tenant.pk)
        announced.clear()
        for value in (1, 2, 3, 4, 5):
            rule(tenant, value)
        assert IngestBatch.objects.filter(tenant=tenant, applied_at__isnull=True).count() == 5
        assert batches_apply(tenant_id=tenant.pk) == "applied 5 batches"
        assert announced == [True]  # one recompute, not five
        # 3 contacts × (1 + 2 + 3 + 4 + 5) points
        assert points(tenant) == 45


def test_events_between_rule_changes_are_still_applied_as_events(tenant, agent, announced):
    with time_machine.travel(NOW, tick=False):
        rule(tenant, 1)
        rule(tenant, 2)
        events_ingest(tenant=tenant, items=[call(1)])
        events_ingest(tenant=tenant, items=[call(2)])
        rule(tenant, 4)
        assert batches_apply(tenant_id=tenant.pk) == "applied 5 batches"
        assert announced == [True, False, True]
        assert points(tenant) == 2 * 7


def test_a_group_applied_stays_applied_when_a_later_group_fails(tenant, agent):
    """Each group commits on its own: a run cut short (the database gone, a worker killed)
    keeps what it had applied, and holds the apply lock for one group at a time."""

    def outage(sender, *, everything: bool, **kwargs) -> None:
        if everything:
            raise OperationalError("the database went away")

    with time_machine.travel(NOW, tick=False):
        events_ingest(tenant=tenant, items=[call(1)])
        rule(tenant, 1)
        buckets_changed.connect(outage, dispatch_uid="test.outage")
        try:
            with pytest.raises(OperationalError):
                batches_apply(tenant_id=tenant.pk)
        finally:
            buckets_changed.disconnect(dispatch_uid="test.outage")
        pending = IngestBatch.objects.filter(tenant=tenant, applied_at__isnull=True)
        assert list(pending.values_list("everything", flat=True)) == [True]
        assert batches_apply(tenant_id=tenant.pk) == "applied 1 batches"
        assert points(tenant) == 1
