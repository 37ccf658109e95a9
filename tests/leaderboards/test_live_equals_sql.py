"""Live boards (Redis, kept incrementally by the apply task) answer exactly what SQL answers,
for random data — and a current-day board is served with no SQL query at all."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Agent
from accounts.services import agent_deactivate, agent_upsert, team_upsert, tenant_create
from gamify.contests.selectors import standings_of
from gamify.contests.services import contest_board, contest_board_populate, contest_create
from gamify.contests.tasks import populate_contest
from gamify.game import services as game
from gamify.game.models import PointRule
from gamify.leaderboards import live
from gamify.leaderboards.boards import rank, standings
from gamify.leaderboards.service import (
    boards_populate_all,
    current_periods,
    leaderboard,
    period_board,
)
from gamify.leaderboards.tasks import populate_board
from kpis.ingest import batches_apply, event_void, events_ingest
from kpis.models import IngestBatch
from kpis.periods import Period
from kpis.services.catalogue import kpi_update
from tests.conftest import clear_redis

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 16, 30, tzinfo=TZ)
METRICS = ["points", "fcr", "aht", "csat", "contacts_handled", "service_level"]
NAMES = ["Ann", "ann", "Bo", "Cy", "Dee", "Eve", "Flo", "Gus"]  # duplicates test the tie-break


def make_tenant() -> Any:
    tenant = tenant_create(name="Live", timezone_name="Asia/Shanghai", slug="live")
    team_upsert(tenant=tenant, external_id="t", name="T", parent_external_id=None)
    for n, name in enumerate(NAMES):
        agent_upsert(tenant=tenant, external_id=f"a{n}", display_name=name, team_external_id="t")
    game.point_rule_create(
        tenant=tenant,
        values={"name": "per contact", "kpi": "contacts_handled", "kind": "per_unit",
                "points": 3, "period": "day"},
    )  # fmt: skip
    return tenant


def random_events(rng: random.Random, count: int, prefix: str) -> list[dict[str, Any]]:
    events = []
    for n in range(count):
        at = NOW - timedelta(minutes=rng.randrange(0, 60 * 24 * 20))  # this month, mostly
        kind = rng.choice(["interaction", "interaction", "survey"])
        event: dict[str, Any] = {
            "event_id": f"{prefix}{n}", "type": kind, "occurred_at": at.isoformat(),
            "agent": f"a{rng.randrange(len(NAMES))}",
        }  # fmt: skip
        if kind == "interaction":
            event.update(
                answered=rng.random() < 0.8, wait_seconds=rng.choice([0, 5, 20, 21, 40]),
                talk_seconds=rng.choice([60, 120, 120, 300]),
                resolved_first_contact=rng.choice([True, False, None]),
            )  # fmt: skip
        else:
            event["csat"] = rng.randint(1, 5)
        events.append(event)
    return events


def compare_all(tenant: Any) -> None:
    for period in current_periods(tenant):
        for metric in METRICS:
            board = period_board(tenant, metric, period)
            better = metric not in ("aht",)
            expected_ranked, expected_unranked = rank(standings(board))
            reply = live.read(board, limit=1000, better=better)
            assert reply is not None, (metric, period)
            ranked, unranked, _ = reply.standings()

            def rows(entries: list[Any]) -> list[tuple[Any, ...]]:
                return [(e.rank, e.entity_id, e.value, e.volume, e.name) for e in entries]

            assert rows(ranked) == rows(expected_ranked), (metric, period.type)
            assert [(e.entity_id, e.reason) for e in unranked] == [
                (e.entity_id, e.reason) for e in expected_unranked
            ]
            for agent_id in [e.entity_id for e in expected_ranked][:3]:
                external = next(e.external_id for e in expected_ranked if e.entity_id == agent_id)
                reply = live.read(board, limit=1, better=better, around=external)
                assert reply is not None
                nearby = reply.standings()[2]
                position = [e.entity_id for e in expected_ranked].index(agent_id)
                window = expected_ranked[max(0, position - 2) : position + 3]
                assert rows(nearby) == rows(window)
            # And over the API: the live body lists exactly what SQL lists for the same window.
            middle = None
            if expected_ranked:
                middle = expected_ranked[len(expected_ranked) // 2].external_id
            window_only = Period("custom", period.start, period.end)
            bodies = [
                leaderboard(tenant=tenant, metric=metric, period=p, limit=1000, around=middle)
                for p in (period, window_only)
            ]
            assert [b["source"] for b in bodies] == ["live", "sql"]
            for part in ("entries", "around", "not_qualified"):  # as JSON: 3, not 3.0
                assert json.dumps(bodies[0][part]) == json.dumps(bodies[1][part]), (metric, part)


def contest_of_today(tenant: Any) -> Any:
    """A running points contest over today, for part of the floor (agents of team t)."""
    day = current_periods(tenant)[0]
    return contest_create(
        tenant=tenant,
        values={"name": "Today", "kind": "ranked", "entity": "agent", "metric": "points",
                "starts_at": day.start, "ends_at": day.end, "participants": {"teams": ["t"]}},
    )  # fmt: skip


def compare_contest(contest: Any) -> None:
    board = contest_board(contest)
    expected_ranked, expected_unranked = rank(standings(board))
    reply = live.read(board, limit=1000, better=True)
    assert reply is not None
    ranked, unranked, _ = reply.standings()
    assert [(e.rank, e.entity_id, e.value) for e in ranked] == [
        (e.rank, e.entity_id, e.value) for e in expected_ranked
    ]
    assert [e.entity_id for e in unranked] == [e.entity_id for e in expected_unranked]


# What may happen between two batches of events: every kind of change that moves derived state.
CHANGES = (
    "void", "rule_create", "rule_update", "rule_delete", "adjust", "levels", "min_volume",
    "badge", "deactivate", "reactivate", "move",
)  # fmt: skip


def apply_change(tenant: Any, change: str, rng: random.Random, events: list[dict]) -> None:
    agent = f"a{rng.randrange(len(NAMES))}"
    rules = list(PointRule.objects.for_tenant(tenant).filter(deleted=False))
    if change == "void" and events:
        event_void(tenant=tenant, event_id=rng.choice(events)["event_id"])
    elif change == "rule_create":
        kpi, op, threshold = rng.choice([("fcr", ">=", 60), ("aht", "<=", 150), ("csat", ">=", 50)])
        game.point_rule_create(
            tenant=tenant,
            values={"name": f"target {kpi}", "kpi": kpi, "kind": "target", "op": op,
                    "threshold": threshold, "points": rng.randrange(1, 40), "period": "day",
                    "min_volume": rng.randrange(0, 3)},
        )  # fmt: skip
    elif change == "rule_update" and rules:
        game.point_rule_update(rule=rng.choice(rules), changes={"points": rng.randrange(0, 30)})
    elif change == "rule_delete" and rules:
        game.point_rule_delete(rule=rng.choice(rules))
    elif change == "adjust":
        game.points_adjust(
            tenant=tenant,
            agent=Agent.objects.get(tenant=tenant, external_id=agent),
            points=rng.choice([-7, -1, 5, 20]),
            reason="property test",
            actor="test",
        )
    elif change == "levels":
        game.levels_replace(
            tenant=tenant,
            levels=[{"number": 1, "name": "One", "min_points": 0},
                    {"number": 2, "name": "Two", "min_points": rng.randrange(1, 60)}],
        )  # fmt: skip
    elif change == "min_volume":
        kpi_update(tenant=tenant, code=rng.choice(["fcr", "aht", "csat", "service_level"]),
                   min_volume=Decimal(rng.randrange(0, 6)))  # fmt: skip
    elif change == "badge":
        code = f"b{rng.randrange(10**6)}"
        game.badge_create(
            tenant=tenant,
            code=code,
            values={"name": code, "coins": 5, "criteria": {"kind": "count",
                    "kpi": "contacts_handled", "count": rng.randrange(1, 4), "period": "day"}},
        )  # fmt: skip
    elif change == "deactivate":
        agent_deactivate(agent=Agent.objects.get(tenant=tenant, external_id=agent))
    elif change in ("reactivate", "move"):
        team = rng.choice(["t", "u"]) if change == "move" else "t"
        name = Agent.objects.get(tenant=tenant, external_id=agent).display_name
        agent_upsert(tenant=tenant, external_id=agent, display_name=name, team_external_id=team)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10**6),
    steps=st.lists(st.lists(st.sampled_from(CHANGES), max_size=3), min_size=1, max_size=4),
)
def test_live_boards_equal_sql(seed: int, steps: list[list[str]]) -> None:
    """After any mix of events and changes (rules, adjustments, levels, minimum volumes,
    badges, agents leaving, coming back and moving), live boards and a running contest's live
    standings equal SQL."""
    rng = random.Random(seed)
    with time_machine.travel(NOW, tick=False), transaction.atomic():
        try:
            clear_redis()
            tenant = make_tenant()
            team_upsert(tenant=tenant, external_id="u", name="U", parent_external_id=None)
            contest = contest_of_today(tenant)
            events_ingest(tenant=tenant, items=random_events(rng, 30, "first-"))
            batches_apply(tenant_id=tenant.pk)
            boards_populate_all(tenant=tenant, only_live=False)
            contest_board_populate(contest=contest)
            for b, changes in enumerate(steps):
                events = random_events(rng, rng.randrange(1, 25), f"b{b}-")
                events_ingest(tenant=tenant, items=events)
                for change in changes:
                    apply_change(tenant, change, rng, events)
                batches_apply(tenant_id=tenant.pk)
            failed = list(IngestBatch.objects.filter(failed_at__isnull=False).values("error"))
            assert not failed, failed
            compare_all(tenant)
            compare_contest(contest)
        finally:
            transaction.set_rollback(True)


def test_current_board_is_served_without_sql(db):
    with time_machine.travel(NOW, tick=False):
        tenant = make_tenant()
        events_ingest(tenant=tenant, items=random_events(random.Random(1), 40, "e"))
        batches_apply(tenant_id=tenant.pk)
        boards_populate_all(tenant=tenant, only_live=False)
        period = current_periods(tenant)[2]  # this month
        with CaptureQueriesContext(connection) as queries:
            board = leaderboard(tenant=tenant, metric="contacts_handled", period=period, limit=5)
        assert len(queries.captured_queries) == 0
        assert board["entries"]
        with CaptureQueriesContext(connection) as queries:
            leaderboard(tenant=tenant, metric="fcr", period=period, limit=5, scope="team:t")
        assert len(queries.captured_queries) > 0  # a team scope is answered from SQL


def test_a_flushed_board_is_answered_from_sql_and_repopulated(db):
    with time_machine.travel(NOW, tick=False):
        tenant = make_tenant()
        events_ingest(tenant=tenant, items=random_events(random.Random(2), 40, "e"))
        batches_apply(tenant_id=tenant.pk)
        period = current_periods(tenant)[0]
        board = period_board(tenant, "points", period)
        clear_redis()  # a flush
        assert not live.is_ready(board)
        first = leaderboard(tenant=tenant, metric="points", period=period, limit=50)
        assert first.pop("source") == "sql"
        assert live.is_ready(board)  # the populate task ran (eagerly in tests)
        again = leaderboard(tenant=tenant, metric="points", period=period, limit=50)
        assert again.pop("source") == "live"
        assert again == first
        assert first["entries"]


def test_a_board_read_while_its_fill_task_waits_is_filled_by_the_next_apply_run(db):
    """Under sustained ingestion every worker can be busy applying, and a board's populate
    task then waits until ingestion pauses: the read also notes the board, and the tenant's
    next apply run fills it (and its task, when it runs at last, finds nothing to do)."""
    with time_machine.travel(NOW, tick=False):
        tenant = make_tenant()
        events_ingest(tenant=tenant, items=random_events(random.Random(5), 40, "e"))
        batches_apply(tenant_id=tenant.pk)
        month = current_periods(tenant)[2]
        fcr, points = (period_board(tenant, m, month) for m in ("fcr", "points"))
        contest = contest_of_today(tenant)
        client = live.get_redis()
        assert client is not None
        # Their populate tasks are queued (by reads a moment ago) and no worker is free.
        for board in (fcr, contest_board(contest)):
            client.set(live.populating_key(board), "1", ex=60)
        assert leaderboard(tenant=tenant, metric="fcr", period=month)["source"] == "sql"
        standings_of(contest, limit=10)  # answered from SQL
        assert not live.is_ready(fcr)
        assert not live.is_ready(contest_board(contest))

        today = random_events(random.Random(6), 10, "today-")
        for event in today:
            event["occurred_at"] = (NOW - timedelta(minutes=5)).isoformat()
        events_ingest(tenant=tenant, items=today)
        batches_apply(tenant_id=tenant.pk)
        assert live.is_ready(fcr)
        assert live.is_ready(contest_board(contest))
        assert not live.is_ready(points)  # nobody read it: still costs nothing
        assert not client.exists(live.populating_key(fcr))  # an unready later asks at once
        assert live.wanted_take(tenant.pk) == []
        contest_reply = live.read(contest_board(contest), limit=10, better=True)
        assert contest_reply is not None
        assert contest_reply.standings()[0]  # today's events put the team on it
        compare_contest(contest)
        reply = live.read(fcr, limit=1000, better=True)
        assert reply is not None
        expected, _ = rank(standings(fcr))
        assert [(e.rank, e.entity_id, e.value) for e in reply.standings()[0]] == [
            (e.rank, e.entity_id, e.value) for e in expected
        ]
        assert populate_board(tenant.pk, "fcr", "month") == "already live"
        assert populate_contest(contest.pk) == "already live"


def test_only_boards_somebody_read_are_kept_live(db):
    """A board nobody asked for costs the apply task nothing; once read, it is kept."""
    with time_machine.travel(NOW, tick=False):
        tenant = make_tenant()
        clear_redis()
        events_ingest(tenant=tenant, items=random_events(random.Random(3), 40, "e"))
        batches_apply(tenant_id=tenant.pk)
        day = current_periods(tenant)[2]  # this month: every event of the stream
        points, fcr = (period_board(tenant, m, day) for m in ("points", "fcr"))
        client = live.get_redis()
        assert client is not None
        assert client.keys(f"{live.board_key(points)}*") == []  # nothing written for unread boards
        assert leaderboard(tenant=tenant, metric="points", period=day)["source"] == "sql"
        assert live.is_ready(points)
        assert not live.is_ready(fcr)

        events_ingest(tenant=tenant, items=random_events(random.Random(4), 30, "more-"))
        batches_apply(tenant_id=tenant.pk)
        assert client.keys(f"{live.board_key(fcr)}*") == []
        reply = live.read(points, limit=100, better=True)
        assert reply is not None

        boards_populate_all(tenant=tenant)  # what a rebuild does: refill the live ones only
        assert live.is_ready(points)
        assert client.keys(f"{live.board_key(fcr)}*") == []
        expected, _ = rank(standings(points))
        assert len(expected) == len(NAMES)
        assert [(e.entity_id, e.value, e.rank) for e in reply.standings()[0]] == [
            (e.entity_id, e.value, e.rank) for e in expected
        ]
