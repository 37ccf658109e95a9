"""Live boards and running contests' standings follow every kind of change, not only events
(issue 14, items 1, 2 and 11): a point rule created, edited or deleted, a manual adjustment,
a KPI's minimum volume, an agent deactivated and back — each read live (Redis) and compared
with the same window answered from SQL.

Numbers by hand: a rule gives 3 points per contact handled a day; a1 handles 4 calls today,
all resolved first time, a2 handles 2, none resolved.
"""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine

from accounts.services import agent_upsert
from gamify.activity.models import Activity
from kpis.models import IngestBatch
from tests.game.support import SHANGHAI, call, post_events
from tests.helpers import problem

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 16, 30, tzinfo=SHANGHAI)
TODAY = "2026-11-20T{:02d}:00:00+08:00"
DAY_START, DAY_END = "2026-11-20T00:00:00+08:00", "2026-11-21T00:00:00+08:00"


@pytest.fixture
def floor(tenant, team, agent, api, commit):
    agent_upsert(tenant=tenant, external_id="a2", display_name="Bo Chen", team_external_id="t1")
    with time_machine.travel(NOW, tick=False):
        create_rule(api, commit, name="per contact", kpi="contacts_handled", kind="per_unit",
                    points=3)  # fmt: skip
        post_events(
            api,
            commit,
            [call("a1", TODAY.format(9 + n), resolved_first_contact=True) for n in range(4)]
            + [call("a2", TODAY.format(9 + n), resolved_first_contact=False) for n in range(2)],
        )
        yield tenant


def create_rule(api, commit, **values):
    values.setdefault("period", "day")
    response = commit(lambda: api.post("/api/v1/point-rules", values, format="json"))
    assert response.status_code == 201, response.content
    return response.json()


def live_and_sql(api, metric="points"):
    """The live board of today and the same window from SQL; asserts they agree."""
    live = api.get("/api/v1/leaderboards", {"metric": metric, "period": "day", "limit": 50})
    sql = api.get(
        "/api/v1/leaderboards", {"metric": metric, "start": DAY_START, "end": DAY_END, "limit": 50}
    )
    assert live.status_code == sql.status_code == 200, (live.content, sql.content)
    assert live["X-Gamify-Source"] == "live"
    assert sql["X-Gamify-Source"] == "sql"
    body, expected = live.json(), sql.json()
    for part in ("entries", "not_qualified"):
        assert body[part] == expected[part], (metric, part, body[part], expected[part])
    return [(e["agent"], e["value"]) for e in body["entries"]], [
        e["agent"] for e in body["not_qualified"]
    ]


def make_live(api, metric="points"):
    """The first read of a board fills it (eagerly in tests); from then on it is kept live."""
    api.get("/api/v1/leaderboards", {"metric": metric, "period": "day"})
    response = api.get("/api/v1/leaderboards", {"metric": metric, "period": "day"})
    assert response["X-Gamify-Source"] == "live"


def test_a_rule_created_edited_and_deleted_moves_the_live_board(api, commit, floor):
    with time_machine.travel(NOW, tick=False):
        make_live(api)
        assert live_and_sql(api)[0] == [("a1", 12), ("a2", 6)]
        # 50 points a day with FCR <= 10 % over 2 contacts: only a2 meets it (a strange rule,
        # but one that moves the ranks).
        rule = create_rule(api, commit, name="odd", kpi="fcr", kind="target", points=50,
                           op="<=", threshold=10, min_volume=2)  # fmt: skip
        assert live_and_sql(api)[0] == [("a2", 56), ("a1", 12)]
        response = commit(
            lambda: api.patch(f"/api/v1/point-rules/{rule['id']}", {"points": 5}, format="json")
        )
        assert response.status_code == 200, response.content
        assert live_and_sql(api)[0] == [("a1", 12), ("a2", 11)]
        assert commit(lambda: api.delete(f"/api/v1/point-rules/{rule['id']}")).status_code == 204
        assert live_and_sql(api)[0] == [("a1", 12), ("a2", 6)]
        assert api.get("/api/v1/ingest/status").json()["pending"] == 0


def test_a_manual_adjustment_is_on_the_live_board(api, commit, floor):
    with time_machine.travel(NOW, tick=False):
        make_live(api)
        response = commit(
            lambda: api.post(
                "/api/v1/agents/a2/points/adjustments",
                {"points": 10, "reason": "Covered the night shift"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="adj-1",
            )
        )
        assert response.status_code == 201, response.content
        assert live_and_sql(api)[0] == [("a2", 16), ("a1", 12)]
        profile = api.get("/api/v1/agents/a2/profile").json()
        assert profile["points"]["day"] == 16
        assert profile["ranks"]["points_day"] == 1


def test_points_below_zero_are_ranked_live_as_in_sql(api, commit, floor):
    """A manual adjustment can take an agent's points below zero (a points board's volume)."""
    with time_machine.travel(NOW, tick=False):
        make_live(api)
        response = commit(
            lambda: api.post(
                "/api/v1/agents/a2/points/adjustments",
                {"points": -20, "reason": "Duplicate calls credited"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="adj-3",
            )
        )
        assert response.status_code == 201, response.content
        assert live_and_sql(api)[0] == [("a1", 12), ("a2", -14)]
        around = api.get("/api/v1/leaderboards", {"metric": "points", "around": "a2"}).json()
        assert [(e["rank"], e["agent"], e["volume"]) for e in around["around"]] == [
            (1, "a1", 12),
            (2, "a2", -14),
        ]


def test_a_kpi_minimum_volume_change_requalifies_the_live_board(api, commit, floor):
    def min_volume(n):
        response = commit(lambda: api.patch("/api/v1/kpis/fcr", {"min_volume": n}, format="json"))
        assert response.status_code == 200, response.content

    with time_machine.travel(NOW, tick=False):
        min_volume(1)
        make_live(api, "fcr")
        assert live_and_sql(api, "fcr") == ([("a1", 100), ("a2", 0)], [])
        min_volume(3)
        assert live_and_sql(api, "fcr") == ([("a1", 100)], ["a2"])  # 2 contacts < 3
        min_volume(5)
        assert live_and_sql(api, "fcr") == ([], ["a1", "a2"])  # listed by volume: 4, then 2
        min_volume(2)
        assert live_and_sql(api, "fcr") == ([("a1", 100), ("a2", 0)], [])


def test_an_agent_deactivated_and_back_leaves_and_rejoins_the_live_board(api, commit, floor):
    with time_machine.travel(NOW, tick=False):
        make_live(api)
        assert commit(lambda: api.delete("/api/v1/agents/a2")).status_code in (200, 204)
        assert live_and_sql(api)[0] == [("a1", 12)]
        response = commit(
            lambda: api.put(
                "/api/v1/agents/a2",
                {"display_name": "Bo Chen", "team": "t1", "active": True},
                format="json",
            )
        )
        assert response.status_code == 200, response.content
        assert live_and_sql(api)[0] == [("a1", 12), ("a2", 6)]


def test_a_running_contest_follows_a_rule_change(api, commit, floor):
    with time_machine.travel(NOW, tick=False):
        response = commit(
            lambda: api.post(
                "/api/v1/contests",
                {"name": "Today", "kind": "ranked", "entity": "agent", "metric": "points",
                 "starts_at": DAY_START, "ends_at": DAY_END},
                format="json",
            )
        )  # fmt: skip
        assert response.status_code == 201, response.content
        contest = response.json()
        assert contest["status"] == "running"
        url = f"/api/v1/contests/{contest['id']}/standings"

        def standings():
            body = api.get(url).json()
            return [(e["agent"], e["value"]) for e in body["entries"]]

        assert standings() == [("a1", 12), ("a2", 6)]  # answered from SQL, and filled
        assert standings() == [("a1", 12), ("a2", 6)]  # live
        create_rule(api, commit, name="odd", kpi="fcr", kind="target", points=50, op="<=",
                    threshold=10, min_volume=2)  # fmt: skip
        assert standings() == [("a2", 56), ("a1", 12)]
        commit(
            lambda: api.post(
                "/api/v1/agents/a1/points/adjustments",
                {"points": 100, "reason": "Saved a key account"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="adj-2",
            )
        )
        assert standings() == [("a1", 112), ("a2", 56)]


def test_a_pending_change_shows_in_the_ingest_status(api, floor):
    with time_machine.travel(NOW, tick=False):
        # No on-commit hook runs here: the rule's recompute stays in the outbox.
        response = api.post(
            "/api/v1/point-rules",
            {"name": "x", "kpi": "fcr", "kind": "target", "points": 1, "threshold": 50},
            format="json",
        )
        assert response.status_code == 201
        status = api.get("/api/v1/ingest/status").json()
        assert status["pending"] == 0  # no events wait
        assert status["recomputing"] is True
        assert status["oldest_pending_at"] == "2026-11-20T08:30:00Z"
        assert IngestBatch.objects.filter(source="change", applied_at__isnull=True).count() == 1


def test_a_rule_change_does_not_report_late_adjustments(api, commit, tenant, team, agent):
    """Finalized periods stay as they were when a rule changes, and the feed says nothing."""
    past = "2026-11-10T09:{:02d}:00+08:00"
    with time_machine.travel(datetime(2026, 11, 10, 12, 0, tzinfo=SHANGHAI), tick=False):
        post_events(api, commit, [call("a1", past.format(9 + n)) for n in range(5)])
    with time_machine.travel(NOW, tick=False):
        from gamify.game.tasks import finalize_periods

        finalize_periods()  # 10 November (and its week) are finalized, November is not
        create_rule(api, commit, name="per contact", kpi="contacts_handled", kind="per_unit",
                    points=2)  # fmt: skip
        create_rule(api, commit, name="monthly", kpi="contacts_handled", kind="per_unit",
                    points=1, period="month")  # fmt: skip
        assert not Activity.objects.filter(type="points.late_adjustment").exists()
        feed = api.get("/api/v1/activity", {"types": "points.late_adjustment"}).json()
        assert feed["results"] == []
        # 10 November stays as it was finalized (no rule then: 0 points); the month is still
        # open, so the monthly rule counts the five calls (on the month's last day).
        profile = api.get("/api/v1/agents/a1/profile").json()
        assert profile["points"]["month"] == 5
        # A genuinely late event for the finalized day is still reported.
        post_events(api, commit, [call("a1", past.format(30))])
        late = api.get("/api/v1/activity", {"types": "points.late_adjustment"}).json()["results"]
        assert [(e["data"]["rule_name"], e["data"]["recomputed_points"]) for e in late] == [
            ("per contact", 12)  # six calls × 2, against the 0 frozen on 10 November
        ]
        assert late[0]["data"]["frozen_points"] == 0
        assert api.get("/api/v1/agents/a1/profile").json()["points"]["month"] == 6


def test_bad_rule_bodies_still_name_the_field(api, floor):
    problem(api.post("/api/v1/point-rules", {"name": "x"}, format="json"), 400)


def test_a_team_moved_under_a_contest_team_joins_the_running_contest(api, commit, floor):
    """Participants are teams' current subtrees: a team put under a participating team brings
    its agents into the contest's live standings, and taking it out takes them away."""
    with time_machine.travel(NOW, tick=False):
        for team, parent in (("sales", None), ("t1", None)):
            response = commit(
                lambda team=team, parent=parent: api.put(
                    f"/api/v1/teams/{team}", {"name": team, "parent": parent}, format="json"
                )
            )
            assert response.status_code in (200, 201), response.content
        response = commit(
            lambda: api.post(
                "/api/v1/contests",
                {"name": "Sales today", "kind": "ranked", "entity": "agent", "metric": "points",
                 "starts_at": DAY_START, "ends_at": DAY_END,
                 "participants": {"teams": ["sales"]}},
                format="json",
            )
        )  # fmt: skip
        assert response.status_code == 201, response.content
        url = f"/api/v1/contests/{response.json()['id']}/standings"

        def standings():
            return [(e["agent"], e["value"]) for e in api.get(url).json()["entries"]]

        assert standings() == []  # nobody in sales yet (and the board is now filled)
        assert standings() == []

        def put_t1(parent):
            response = commit(
                lambda: api.put(
                    "/api/v1/teams/t1", {"name": "Tier 1", "parent": parent}, format="json"
                )
            )
            assert response.status_code == 200, response.content

        put_t1("sales")
        assert standings() == [("a1", 12), ("a2", 6)]
        put_t1(None)
        assert standings() == []
