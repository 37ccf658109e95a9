"""The beat process SIGKILLed and started again, over and over, while periods and contests
are due: a killed beat never saved when it last sent its tasks, so each new one sends them
again at once — and still no period and no contest is finalized twice: one PeriodClose per
period, one conversion per agent and day, one prize per winner, one `contest.finished`."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from accounts.models import Tenant
from bench.stack import Stack
from gamify.activity.models import Activity
from gamify.contests.models import Contest, ContestResult
from gamify.game.models import GameSettings, PeriodClose
from gamify.wallet.models import ConversionRule, LedgerEntry
from tests.faults.client import PER_CONTACT_RULE, interaction, wait_for
from tests.faults.conftest import tenant_api

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

AGENTS = 3
DAYS = 3
KILLS = 4


def contacts(agent: int, day: int) -> int:
    return 5 + 3 * agent + day


def test_beat_killed_and_restarted_finalizes_each_period_and_contest_once(
    redis_server: Any, make_stack: Any, tmp_path: Path
) -> None:
    stack: Stack = make_stack(redis_server, web_workers=1)
    api = tenant_api(stack, name="Beat")
    tenant = Tenant.objects.get(slug=api.slug)
    stack.start_web()
    stack.start_worker()
    api.ok("post", "/point-rules", PER_CONTACT_RULE)
    GameSettings.objects.update_or_create(tenant=tenant, defaults={"grace_minutes": 0})
    ConversionRule.objects.create(tenant=tenant, points_per_coin=2)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=DAYS - d) for d in range(DAYS)]  # the last DAYS days
    events = [
        interaction(f"a{a}-d{d}-{n}", f"a{a}", datetime.combine(day, time(10, n), UTC).isoformat())
        for a in range(AGENTS) for d, day in enumerate(days) for n in range(contacts(a, d))
    ]  # fmt: skip
    assert api.ok("post", "/events", {"events": events})["accepted"] == len(events)
    wait_for(api.settled, timeout=60, what="the events to be applied")

    # Three contests on points that ended yesterday, created (as the API allows) ahead and
    # then moved into the past: beat starts, ends and finalizes them in one go.
    ids = []
    for n in range(3):
        body = {"name": f"Day {n}", "kind": "ranked", "entity": "agent", "metric": "points",
                "starts_at": f"{today + timedelta(days=5)}T00:00:00Z",
                "ends_at": f"{today + timedelta(days=6)}T00:00:00Z",
                "prizes": [{"rank_from": 1, "rank_to": 1, "coins": 50}]}  # fmt: skip
        ids.append(api.ok("post", "/contests", body)["id"])
    start = datetime.combine(days[-1], time(0), UTC)
    Contest.objects.filter(pk__in=ids).update(starts_at=start, ends_at=start + timedelta(days=1))

    # A beat that ran before and last saved its schedule's state an hour ago (it saves every
    # 3 minutes, and a killed one never does): each beat started from now on finds every task
    # overdue and sends it at once — again and again, as a crash-looping beat would.
    first = stack.start_beat(tmp_path / "beat-first.log")
    schedule = set(settings.CELERY_BEAT_SCHEDULE)
    wait_for(lambda: schedule <= set(PeriodicTask.objects.values_list("name", flat=True)),
             timeout=60, what="beat to store its whole schedule")  # fmt: skip
    stack.kill(first)
    PeriodicTask.objects.update(last_run_at=datetime.now(UTC) - timedelta(hours=1))
    PeriodicTasks.update_changed()

    # Kill beat as soon as it has sent its tasks (the worker is finalizing), start another.
    sent = Counter[str]()
    for kill in range(KILLS):
        log = tmp_path / f"beat-{kill}.log"
        beat = stack.start_beat(log)
        wait_for(lambda log=log: "finalize-periods" in log.read_text()
                 and "advance-contests" in log.read_text(), timeout=60,
                 what="beat to send the finalization tasks", every=0.05)  # fmt: skip
        stack.kill(beat)
        text = log.read_text()
        sent.update({task: text.count(f"Sending due task {task}")
                     for task in ("finalize-periods", "advance-contests")})  # fmt: skip
    assert sent["finalize-periods"] >= KILLS
    assert sent["advance-contests"] >= KILLS
    stack.start_beat(tmp_path / "beat-last.log")

    def finished() -> bool:
        statuses = set(Contest.objects.filter(pk__in=ids).values_list("status", flat=True))
        return statuses == {Contest.Status.FINISHED} and PeriodClose.objects.filter(
            tenant=tenant, period="day", start__in=days).count() == DAYS  # fmt: skip

    wait_for(finished, timeout=120, what="every due period and contest to be finalized")
    wait_for(api.settled, timeout=60, what="the worker to be idle")

    closes = list(PeriodClose.objects.filter(tenant=tenant).values_list("period", "start"))
    assert len(closes) == len(set(closes))
    assert {start for period, start in closes if period == "day"} >= set(days)

    # By hand: floor(points / 2) coins per agent and day; the contest day's winner is the
    # agent with most contacts on it, paid 50 coins by each of the three contests.
    conversions = Counter(LedgerEntry.objects.filter(tenant=tenant, kind="conversion")
                          .values_list("agent__external_id", "amount"))  # fmt: skip
    expected = Counter((f"a{a}", contacts(a, d) // 2) for a in range(AGENTS) for d in range(DAYS))
    assert conversions == expected
    prizes = list(LedgerEntry.objects.filter(tenant=tenant, kind="contest_prize")
                  .values_list("agent__external_id", "amount"))  # fmt: skip
    assert prizes == [(f"a{AGENTS - 1}", 50)] * 3
    results = list(
        ContestResult.objects.filter(contest_id__in=ids).values_list("contest_id", "external_id")
    )
    assert len(results) == len(set(results)) == 3 * AGENTS
    finished_events = Counter(Activity.objects.filter(tenant=tenant, type="contest.finished")
                              .values_list("data__contest", flat=True))  # fmt: skip
    assert all(count == 1 for count in finished_events.values())
    assert len(finished_events) == 3
