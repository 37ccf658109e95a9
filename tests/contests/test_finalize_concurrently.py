"""Finalization happens exactly once even when two workers run it at the same moment: real
transactions and connections (transaction=True), threads released together by a barrier.
A contest's results, prizes (wallet ledger), badges and activities are written once; a
period's close, badges and coins likewise."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.db import connection

from accounts.services import agent_upsert, team_upsert
from gamify.activity.models import Activity
from gamify.contests import services as contests
from gamify.contests.models import Contest, ContestResult
from gamify.game import services as game
from gamify.game.finalization import period_finalize
from gamify.game.models import BadgeAward, PeriodClose, PointAward
from tests.game.support import call, ingest, local, make_badge, make_rule, survey

pytestmark = pytest.mark.django_db(transaction=True)

D = "2026-11-10"
WORKERS = 4


def race(work: Callable[[], Any], workers: int = WORKERS) -> list[Any]:
    """Run `work` in several threads released at once; return what each returned (or raised).
    Each thread closes its own database connection."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work()
        except Exception as exc:  # reported below, not swallowed
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return results


def ledger():
    from gamify.wallet.models import LedgerEntry

    return sorted(
        LedgerEntry.objects.values_list("agent__external_id", "kind", "amount", "idempotency_key")
    )


@pytest.fixture
def floor(tenant):
    pytest.importorskip("gamify.wallet")
    team_upsert(tenant=tenant, external_id="t1", name="Tier 1", parent_external_id=None)
    for n in range(1, 5):
        agent_upsert(
            tenant=tenant, external_id=f"a{n}", display_name=f"Agent {n}", team_external_id="t1"
        )
    return tenant


def finalizing_contest(tenant):
    """A contest over a past window, ended and waiting to be finalized."""
    make_badge(tenant, "podium", {"kind": "contest_place", "rank": 3}, coins=3)
    make_badge(tenant, "champion", {"kind": "contest_place", "rank": 1})
    contest = contests.contest_create(
        tenant=tenant,
        values={
            "name": "Sprint",
            "kind": "ranked",
            "entity": "agent",
            "metric": "contacts_handled",
            "starts_at": local(D, 10),
            "ends_at": local(D, 12),
            "participants": {},
            "prizes": [
                {"rank_from": 1, "rank_to": 1, "coins": 100, "badge": "champion"},
                {"rank_from": 2, "rank_to": 3, "coins": 20},
            ],
        },
    )
    # a1 4, a2 3, a3 2, a4 1 contacts in the window
    ingest(tenant, [call(f"a{n}", local(D, 11, m)) for n in range(1, 5) for m in range(5 - n)])
    Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.FINALIZING)
    return contest


def test_contest_finalized_concurrently_pays_once(floor):
    contest = finalizing_contest(floor)
    outcomes = race(lambda: contests.contest_finalize(contest_id=contest.pk))
    assert sum("finalized" in o for o in outcomes) == 1, outcomes
    assert sum(o.endswith("nothing to do") for o in outcomes) == WORKERS - 1, outcomes
    contest.refresh_from_db()
    assert contest.status == "finished"
    results = ContestResult.objects.filter(contest=contest).order_by("position")
    assert [(r.external_id, r.rank, r.prize_coins) for r in results] == [
        ("a1", 1, 100),
        ("a2", 2, 20),
        ("a3", 3, 20),
        ("a4", 4, 0),
    ]
    # prizes once per winner, podium badge coins once per holder
    assert ledger() == sorted(
        [
            (
                "a1",
                "contest_prize",
                100,
                f"contest:{contest.pk}:{results[0].entity_id}:{results[0].entity_id}",
            ),
            (
                "a2",
                "contest_prize",
                20,
                f"contest:{contest.pk}:{results[1].entity_id}:{results[1].entity_id}",
            ),
            (
                "a3",
                "contest_prize",
                20,
                f"contest:{contest.pk}:{results[2].entity_id}:{results[2].entity_id}",
            ),
        ]
        + [
            (ext, "badge_prize", 3, f"badge-award:{pk}")
            for ext, pk in BadgeAward.objects.filter(badge__code="podium").values_list(
                "agent__external_id", "pk"
            )
        ]
    )
    assert sorted(BadgeAward.objects.values_list("badge__code", "agent__external_id")) == [
        ("champion", "a1"),
        ("podium", "a1"),
        ("podium", "a2"),
        ("podium", "a3"),
    ]
    assert Activity.objects.filter(type="contest.finished").count() == 1
    assert sorted(
        Activity.objects.filter(type="contest.won").values_list("agent__external_id", flat=True)
    ) == ["a1", "a2", "a3"]
    assert Activity.objects.filter(type="badge.awarded").count() == 4


def test_two_beats_advancing_at_once_finalize_once(floor):
    contest = finalizing_contest(floor)
    race(lambda: contests.contests_advance(tenant=floor), workers=2)
    contest.refresh_from_db()
    assert contest.status == "finished"
    assert ContestResult.objects.filter(contest=contest).count() == 4
    assert len([e for e in ledger() if e[1] == "contest_prize"]) == 3
    assert Activity.objects.filter(type="contest.won").count() == 3


def test_recurring_contest_finalized_concurrently_schedules_one_next_instance(floor):
    contest = finalizing_contest(floor)
    Contest.objects.filter(pk=contest.pk).update(recurrence="weekly")
    race(lambda: contests.contest_finalize(contest_id=contest.pk))
    assert Contest.objects.filter(previous=contest).count() == 1


def test_period_finalized_concurrently_closes_once(floor, tenant):
    from gamify.wallet.services import conversion_rule_set

    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10)
    make_badge(
        tenant,
        "delight",
        {
            "kind": "kpi_threshold",
            "kpi": "csat",
            "op": ">=",
            "threshold": 90,
            "period": "day",
            "min_volume": 2,
        },
        coins=7,
    )
    make_badge(
        tenant,
        "steady",
        {
            "kind": "streak",
            "kpi": "csat",
            "op": ">=",
            "threshold": 90,
            "period": "day",
            "length": 2,
        },
        coins=4,
    )
    conversion_rule_set(tenant=tenant, points_per_coin=10)
    ingest(
        tenant,
        [
            survey(f"a{n}", local(day, 9, m), 5)
            for n in (1, 2)
            for day in ("2026-11-09", D)
            for m in range(2)
        ]
        + [call("a1", local(D, 9, m)) for m in range(3)],
    )
    period_finalize(tenant=tenant, kind="day", start=date(2026, 11, 9))
    before = BadgeAward.objects.count()
    assert before == 2  # "delight" for 11-09, a1 and a2
    outcomes = race(lambda: period_finalize(tenant=tenant, kind="day", start=date(2026, 11, 10)))
    assert sum(o.startswith("finalized") for o in outcomes) == 1, outcomes
    assert outcomes.count("already finalized") == WORKERS - 1
    assert PeriodClose.objects.filter(period="day", start=date(2026, 11, 10)).count() == 1
    assert list(PointAward.objects.values_list("points", "finalized")) == [(30, True)]
    assert sorted(
        BadgeAward.objects.values_list("badge__code", "agent__external_id", "period_key")
    ) == [
        ("delight", "a1", ""),
        ("delight", "a2", ""),
        ("steady", "a1", ""),
        ("steady", "a2", ""),
    ]
    # coins: delight 7 (11-09) + steady 4 (11-10) each; a1's 30 points convert to 3 coins once
    assert sorted((e[0], e[1], e[2]) for e in ledger()) == [
        ("a1", "badge_prize", 4),
        ("a1", "badge_prize", 7),
        ("a1", "conversion", 3),
        ("a2", "badge_prize", 4),
        ("a2", "badge_prize", 7),
    ]
    assert Activity.objects.filter(type="badge.awarded").count() == 4


def test_concurrent_rebuilds_and_applies_award_badges_once(floor, tenant):
    make_badge(tenant, "three", {"kind": "count", "kpi": "contacts_handled", "count": 3}, coins=2)
    make_badge(
        tenant,
        "busy",
        {"kind": "count", "kpi": "contacts_handled", "count": 2, "period": "day"},
        repeatable=True,
    )
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=5)
    ingest(tenant, [call("a1", local(D, 9, m)) for m in range(3)])
    snapshot = sorted(
        BadgeAward.objects.values_list("badge__code", "agent__external_id", "period_key")
    )
    assert snapshot == [("busy", "a1", D), ("three", "a1", "")]
    race(lambda: game.game_rebuild(tenant=tenant))
    from kpis.ingest import batches_apply

    race(lambda: batches_apply(tenant_id=tenant.pk))
    assert (
        sorted(BadgeAward.objects.values_list("badge__code", "agent__external_id", "period_key"))
        == snapshot
    )
    assert [e[2] for e in ledger()] == [2]
    assert Activity.objects.filter(type="badge.awarded").count() == 2
