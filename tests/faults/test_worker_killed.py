"""A Celery worker SIGKILLed in the middle of applying a batch: after a restart every event is
applied exactly once — KPIs, points, badges, coins and live boards equal a rebuild.

Two kills, as production meets them: the pool process of the plain `celery -A config worker`
(the OOM killer's choice; the parent sees the loss and, with `task_reject_on_worker_lost`,
puts the message back), then the whole worker, parent and pool (a lost machine: the message
stays unacknowledged, and the beat sweeper re-enqueues the stored, unapplied batches)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Tenant
from bench.stack import Stack
from tests.faults.client import PER_CONTACT_RULE, Api, board_rows, interaction, wait_for
from tests.faults.conftest import tenant_api
from tests.faults.state import (
    apply_lock_holder,
    bucket_rows,
    game_rows,
    ledger_rows,
    rebuild,
    sql_board,
)

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

AGENTS = 60
BATCHES = 30
PER_BATCH = 200


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def stop(stack: Stack, worker: Any) -> None:
    """A warm shutdown (the worker finishes its task first), bounded: killed after 90 s."""
    stack.processes.remove(worker)
    worker.terminate()
    try:
        worker.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=15)


def post_round(api: Api, prefix: str, now: datetime, handled: Counter[tuple[str, str]]) -> None:
    """BATCHES batches over AGENTS agents in the last hour; counts the contacts handled per
    agent and UTC day into `handled`."""
    for b in range(BATCHES):
        events: list[dict[str, Any]] = []
        for i in range(PER_BATCH):
            n = b * PER_BATCH + i
            agent, at = f"a{n % AGENTS}", now - timedelta(seconds=n % 3000)
            answered = (n // AGENTS) % 5 != 0
            if answered:
                handled[agent, at.date().isoformat()] += 1
            events.append(interaction(f"{prefix}-{n}", agent, at.isoformat(), answered=answered))
        body = api.ok("post", "/events", {"events": events})
        assert body["accepted"] == PER_BATCH, body


def catch_applying(tenant: Tenant, worker: int, *, timeout: float = 90) -> int:
    """Return while the worker's pool process holds the tenant's apply lock (mid-batch): the
    pool process's pid."""

    def applying() -> int | None:
        pool = children(worker)
        return pool[0] if len(pool) == 1 and apply_lock_holder(tenant) else None

    return int(wait_for(applying, timeout=timeout, what="the worker applying", every=0.01))


def test_worker_killed_mid_batch_applies_every_event_exactly_once(
    redis_server: Any, make_stack: Any
) -> None:
    stack: Stack = make_stack(redis_server, web_workers=2)
    api = tenant_api(stack, name="Killed")
    tenant = Tenant.objects.get(slug=api.slug)
    stack.start_web()
    api.ok("post", "/point-rules", PER_CONTACT_RULE)
    api.ok(
        "post",
        "/badges",
        {
            "code": "busy",
            "name": "Busy",
            "coins": 3,
            "repeatable": True,
            "criteria": {"kind": "count", "kpi": "contacts_handled", "count": 50, "period": "day"},
        },
    )
    api.ok("put", "/levels", [{"number": 1, "name": "Rookie", "min_points": 0},
                              {"number": 2, "name": "Pro", "min_points": 100}])  # fmt: skip
    # Read the boards first, so that they are live and every applied batch keeps them.
    for metric in ("points", "contacts_handled"):
        assert api.board(metric).status_code == 200
    worker = stack.start_worker(queues=None, prefork=True)
    wait_for(api.settled, timeout=60, what="the configuration to be applied")
    stop(stack, worker)

    now = datetime.now(UTC).replace(microsecond=0)
    handled: Counter[tuple[str, str]] = Counter()
    post_round(api, "r1", now, handled)
    assert api.status()["pending"] == BATCHES * PER_BATCH

    # 1. The pool process dies mid-batch; its parent puts the task back and a new one applies.
    worker = stack.start_worker(queues=None, prefork=True)
    pool = catch_applying(tenant, worker.pid)
    os.kill(pool, signal.SIGKILL)
    wait_for(api.settled, timeout=120, what="the requeued task to apply every batch")

    # 2. The whole worker dies mid-batch; a new worker and beat's sweeper finish the work.
    stop(stack, worker)
    post_round(api, "r2", now, handled)
    worker = stack.start_worker(queues=None, prefork=True)
    catch_applying(tenant, worker.pid)
    stack.kill(worker)
    stack.start_worker(queues=None)
    stack.start_beat()
    wait_for(api.settled, timeout=120, what="the sweeper and a new worker to apply")

    live = {metric: api.board(metric) for metric in ("points", "contacts_handled")}
    for metric, response in live.items():
        assert response.headers["X-Gamify-Source"] == "live", metric
    buckets, game, ledgers = bucket_rows(tenant), game_rows(tenant), ledger_rows(tenant)

    # By hand: one point per contact handled; a badge (and 3 coins) per agent-day of ≥ 50.
    assert sum(points for _, _, points in game["AgentDayPoints"]) == sum(handled.values())
    busy_days = sum(1 for count in handled.values() if count >= 50)
    assert busy_days > 0
    assert len(ledgers["BadgeAward"]) == len(set(ledgers["BadgeAward"])) == busy_days
    assert [kind for _, kind, _, _ in ledgers["LedgerEntry"]] == ["badge_prize"] * busy_days
    assert sum(balance for _, balance in ledgers["Wallet"]) == 3 * busy_days
    for metric, response in live.items():
        assert board_rows(response.json()) == sql_board(tenant, metric), metric
    expected_board = sorted(
        ((agent, sum(c for (a, _), c in handled.items() if a == agent)) for agent in
         {a for a, _ in handled}),
        key=lambda row: (-row[1], row[0]),
    )  # fmt: skip
    if len({day for _, day in handled}) == 1:  # the test did not straddle midnight
        shown = [(row[1], row[3]) for row in board_rows(live["points"].json())]
        assert sorted(shown, key=lambda r: (-r[1], r[0])) == expected_board

    rebuild(tenant)
    assert bucket_rows(tenant) == buckets
    assert game_rows(tenant) == game
    assert ledger_rows(tenant) == ledgers  # nothing given twice, nothing missing
