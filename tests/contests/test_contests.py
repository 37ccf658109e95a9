"""Contests (DESIGN.md §5, API.md "Contests"): creation (running at once over a past start,
scheduled, draft), validation naming the field, edits only while draft/scheduled, cancel;
the lifecycle under a frozen clock, standings with prizes and "final"; frozen results; guard
rails; target, team-vs-team and one-hour contests; recurrence; contest_place badges; activity;
and the agent profile's running contests.

The tenant is in Asia/Shanghai (+08:00); today is frozen at 2026-11-20 15:00 local.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine

from accounts.services import agent_upsert, team_upsert
from gamify.activity.models import Activity
from gamify.contests.models import Contest, ContestResult
from gamify.contests.services import contest_finalize, contests_advance
from gamify.game.models import BadgeAward
from tests.game.support import SHANGHAI, call, ingest, local, make_badge, make_rule, survey
from tests.helpers import problem

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)
TODAY = "2026-11-20"
PEOPLE = [
    ("a1", "Ann Lee", "t1"),
    ("a2", "Bo Chen", "t1"),
    ("a3", "Cy Diaz", "t1a"),  # t1a is under t1
    ("a4", "Dee Ek", "t2"),
    ("a5", "Eve Fox", "t2"),
]
PRIZES = [
    {"rank_from": 1, "rank_to": 1, "coins": 100, "badge": None},
    {"rank_from": 2, "rank_to": 3, "coins": 20, "badge": None},
]


@pytest.fixture
def floor(tenant):
    team_upsert(tenant=tenant, external_id="t1", name="Tier 1", parent_external_id=None)
    team_upsert(tenant=tenant, external_id="t1a", name="Tier 1 A", parent_external_id="t1")
    team_upsert(tenant=tenant, external_id="t2", name="Tier 2", parent_external_id=None)
    for ext, name, team in PEOPLE:
        agent_upsert(tenant=tenant, external_id=ext, display_name=name, team_external_id=team)
    return tenant


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def at(hour, minute=0, day=TODAY):
    return local(day, hour, minute).isoformat()


def body(**values):
    return {
        "name": "Afternoon sprint",
        "metric": "contacts_handled",
        "starts_at": at(10),
        "ends_at": at(18),
        "prizes": PRIZES,
        **values,
    }


def create(api, **values):
    response = api.post("/api/v1/contests", body(**values), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def standings(api, contest_id, **params):
    response = api.get(f"/api/v1/contests/{contest_id}/standings", params)
    assert response.status_code == 200, response.content
    return response.json()


def table(answer, key="entries"):
    entity = "team" if answer[key] and "team" in answer[key][0] else "agent"
    return [(e["rank"], e[entity], e["value"]) for e in answer[key]]


def contacts(agent, hour, n, day=TODAY):
    return [call(agent, local(day, hour, m)) for m in range(n)]


def balance(api, agent):
    return api.get(f"/api/v1/agents/{agent}/wallet").json()["balance"]


def finish(tenant, contest_id):
    """Move a contest along to finished, the way beat does: after ends_at + grace."""
    contest = Contest.objects.get(pk=contest_id)
    after = contest.ends_at + timedelta(minutes=121)
    with time_machine.travel(after, tick=False):
        contests_advance(tenant=tenant)
    contest.refresh_from_db()
    assert contest.status == "finished", contest.status
    return contest


# --- creation -------------------------------------------------------------------------------
def test_a_contest_that_already_started_runs_at_once_and_counts_the_past(api, floor, frozen):
    ingest(
        floor,
        contacts("a1", 9, 5)  # before the window: not counted
        + contacts("a1", 11, 3)
        + contacts("a2", 12, 1)
        + contacts("a3", 14, 2),
    )
    created = create(api)  # 10:00 → 18:00 today; it is 15:00
    assert created["status"] == "running"
    answer = standings(api, created["id"])
    assert answer["status"] == "running"
    assert answer["final"] is False
    # a1 3, a3 2, a2 1 (a1's 5 contacts at 09:xx are before the start)
    assert table(answer) == [(1, "a1", 3), (2, "a3", 2), (3, "a2", 1)]
    assert [e["prize"] for e in answer["entries"]] == [
        {"coins": 100, "badge": None},
        {"coins": 20, "badge": None},
        {"coins": 20, "badge": None},
    ]
    assert answer["period"]["start"].startswith("2026-11-20T10:00:00")
    started = Activity.objects.filter(type="contest.started")
    assert [a.data["contest"] for a in started] == [created["id"]]
    # events arriving while it runs count
    ingest(floor, contacts("a2", 14, 4))
    assert table(standings(api, created["id"]))[0] == (1, "a2", 5)


def test_scheduled_and_draft(api, floor, frozen):
    scheduled = create(api, starts_at=at(16), ends_at=at(17))
    assert scheduled["status"] == "scheduled"
    draft = create(api, starts_at=at(16), ends_at=at(17), draft=True)
    assert draft["status"] == "draft"
    listed = api.get("/api/v1/contests", {"status": "draft"}).json()["results"]
    assert [c["id"] for c in listed] == [draft["id"]]
    assert not Activity.objects.filter(type="contest.started").exists()
    # a draft is scheduled with draft=false
    response = api.patch(f"/api/v1/contests/{draft['id']}", {"draft": False}, format="json")
    assert response.json()["status"] == "scheduled"
    got = api.get(f"/api/v1/contests/{scheduled['id']}").json()
    assert got == scheduled


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"participants": {"teams": ["t1", "nope"]}}, "participants.teams.1"),
        ({"participants": {"teams": ["nope"]}}, "participants.teams.0"),
        ({"participants": {"agents": ["zz"]}}, "participants.agents.0"),
        ({"participants": {"people": []}}, "participants.people"),
        ({"prizes": [{"rank_from": 1, "rank_to": 1, "coins": -5}]}, "prizes.0.coins"),
        ({"prizes": [PRIZES[0], {"rank_from": 3, "rank_to": 2}]}, "prizes.1.rank_to"),
        ({"prizes": [{"rank_from": 0, "coins": 5}]}, "prizes.0.rank_from"),
        ({"prizes": [{"rank_from": 1, "coins": 5, "badge": "nope"}]}, "prizes.0.badge"),
        ({"prizes": [{"rank_from": 1, "coins": "5"}]}, "prizes.0.coins"),
        ({"guardrails": [{"kpi": "csat", "op": "!=", "value": 80}]}, "guardrails.0.op"),
        ({"guardrails": [{"kpi": "happiness", "op": ">=", "value": 80}]}, "guardrails.0.kpi"),
        ({"guardrails": [{"kpi": "csat", "op": ">="}]}, "guardrails.0.value"),
        ({"ends_at": at(9)}, "ends_at"),  # before starts_at
        ({"ends_at": at(10)}, "ends_at"),  # equal to starts_at
        ({"starts_at": at(10, 30)}, "starts_at"),  # not on the hour
        ({"ends_at": at(18, 15)}, "ends_at"),
        ({"starts_at": "2026-11-20T10:00:00"}, "starts_at"),  # no offset
        ({"ends_at": "2026-11-20T12:99:00Z"}, "ends_at"),  # well-formed, impossible (was a 500)
        ({"starts_at": "2026-02-30T10:00:00Z"}, "starts_at"),
        ({"metric": "points"}, "starts_at"),  # points contests run midnight to midnight
        ({"metric": "points", "starts_at": at(0), "ends_at": at(18)}, "ends_at"),
        ({"metric": "happiness"}, "metric"),
        ({"metric": "turnover"}, "metric"),  # teams only, this is an agent contest
        ({"kind": "target"}, "target"),  # a target contest needs its target
        ({"kind": "lottery"}, "kind"),
        ({"entity": "team", "participants": {"agents": ["a1"]}}, "participants.agents"),
        ({"recurrence": "hourly"}, "recurrence"),
        ({"min_volume": -1}, "min_volume"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_validation_names_the_field(api, floor, frozen, changes, field):
    response = api.post("/api/v1/contests", body(**changes), format="json")
    errors = problem(response, 400)["errors"]
    assert field in errors, errors
    assert not Contest.objects.exists()


def test_an_impossible_time_says_why(api, floor, frozen):
    response = api.post("/api/v1/contests", body(ends_at="2026-11-20T12:99:00Z"), format="json")
    assert problem(response, 400)["errors"] == {
        "ends_at": ["Not a real date and time (minute must be in 0..59)."]
    }
    contest = create(api, starts_at=at(16), ends_at=at(17))
    response = api.patch(
        f"/api/v1/contests/{contest['id']}", {"starts_at": "2026-11-20T25:00:00Z"}, format="json"
    )
    assert "starts_at" in problem(response, 400)["errors"]


@pytest.mark.parametrize("missing", ["name", "metric", "starts_at", "ends_at"])
def test_required_fields(api, floor, missing):
    values = {k: v for k, v in body().items() if k != missing}
    assert missing in problem(api.post("/api/v1/contests", values, format="json"), 400)["errors"]


def test_a_points_contest_runs_midnight_to_midnight(api, floor, frozen):
    created = create(api, metric="points", starts_at=at(0), ends_at=at(0, day="2026-11-21"))
    assert created["status"] == "running"


# --- edits and cancellation -----------------------------------------------------------------
def test_patch_only_while_draft_or_scheduled(api, floor, frozen):
    scheduled = create(api, starts_at=at(16), ends_at=at(17))
    response = api.patch(
        f"/api/v1/contests/{scheduled['id']}", {"name": "Power hour"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Power hour"
    bad = api.patch(f"/api/v1/contests/{scheduled['id']}", {"ends_at": at(15)}, format="json")
    assert "ends_at" in problem(bad, 400)["errors"]
    # moving the start into the past starts it
    response = api.patch(
        f"/api/v1/contests/{scheduled['id']}", {"starts_at": at(14)}, format="json"
    )
    assert response.json()["status"] == "running"
    problem(api.patch(f"/api/v1/contests/{scheduled['id']}", {"name": "X"}, format="json"), 409)
    running = create(api)
    problem(api.patch(f"/api/v1/contests/{running['id']}", {"name": "X"}, format="json"), 409)
    assert api.get(f"/api/v1/contests/{running['id']}").json()["name"] == "Afternoon sprint"


def test_cancel(api, floor, frozen):
    scheduled = create(api, starts_at=at(16), ends_at=at(17))
    response = api.post(f"/api/v1/contests/{scheduled['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    problem(api.post(f"/api/v1/contests/{scheduled['id']}/cancel"), 409)
    problem(api.patch(f"/api/v1/contests/{scheduled['id']}", {"name": "X"}, format="json"), 409)
    # a cancelled contest never starts, nor pays
    with time_machine.travel(local(TODAY, 20), tick=False):
        contests_advance(tenant=floor)
    assert Contest.objects.get(pk=scheduled["id"]).status == "cancelled"
    running = create(api)
    assert api.post(f"/api/v1/contests/{running['id']}/cancel").json()["status"] == "cancelled"


def test_a_finished_contest_cannot_be_cancelled(api, floor, frozen):
    created = create(api, starts_at=at(10), ends_at=at(12))
    finish(floor, created["id"])
    problem(api.post(f"/api/v1/contests/{created['id']}/cancel"), 409)
    problem(api.patch(f"/api/v1/contests/{created['id']}", {"name": "X"}, format="json"), 409)


def test_contests_of_another_tenant_are_not_found(api, outsider_api, floor, frozen):
    created = create(api)
    problem(outsider_api.get(f"/api/v1/contests/{created['id']}"), 404)
    problem(outsider_api.get(f"/api/v1/contests/{created['id']}/standings"), 404)
    problem(outsider_api.post(f"/api/v1/contests/{created['id']}/cancel"), 404)
    assert outsider_api.get("/api/v1/contests").json()["results"] == []


def test_contest_writes_need_manage(make_client, floor, frozen):
    reader = make_client(floor, ("read",))
    problem(reader.post("/api/v1/contests", body(), format="json"), 403)
    assert reader.get("/api/v1/contests").status_code == 200


# --- the lifecycle under a frozen clock -----------------------------------------------------
def test_lifecycle_scheduled_running_finalizing_finished(api, floor):
    with time_machine.travel(local(TODAY, 8), tick=False):
        created = create(api, starts_at=at(10), ends_at=at(12))
        assert created["status"] == "scheduled"
        contests_advance(tenant=floor)
        assert Contest.objects.get().status == "scheduled"
    with time_machine.travel(local(TODAY, 10), tick=False):
        assert contests_advance(tenant=floor) == [f"started {created['id']}"]
        assert Contest.objects.get().status == "running"
        assert contests_advance(tenant=floor) == []  # nothing twice
        ingest(floor, contacts("a1", 10, 2) + contacts("a2", 10, 1))
    with time_machine.travel(local(TODAY, 11, 30), tick=False):
        ingest(floor, contacts("a2", 11, 2) + contacts("a3", 11, 1) + contacts("a4", 11, 1))
        live = standings(api, created["id"])
        assert live["status"] == "running"
        # a2 3; a1 2; a3 1, a4 1 (same volume → by name: Cy before Dee)
        assert table(live) == [(1, "a2", 3), (2, "a1", 2), (3, "a3", 1), (3, "a4", 1)]
    with time_machine.travel(local(TODAY, 12), tick=False):
        contests_advance(tenant=floor)
        assert Contest.objects.get().status == "finalizing"
        assert not Activity.objects.filter(type="contest.finished").exists()
    with time_machine.travel(local(TODAY, 13, 30), tick=False):
        # within the grace window, a late event inside the window still counts
        ingest(floor, [call("a4", local(TODAY, 11, 45))])
        contests_advance(tenant=floor)
        assert Contest.objects.get().status == "finalizing"
        assert standings(api, created["id"])["status"] == "finalizing"
    with time_machine.travel(local(TODAY, 14, 0), tick=False):  # ends_at + 120 min
        contests_advance(tenant=floor)
        contest = Contest.objects.get()
        assert contest.status == "finished"
        assert contest.finished_at is not None
    final = standings(api, created["id"])
    assert final["status"] == "finished"
    assert final["final"] is True
    # a2 3; a1 2; a4 2 (the late event) — a tie, a1 first by name; a3 1
    assert table(final) == [(1, "a2", 3), (2, "a1", 2), (2, "a4", 2), (4, "a3", 1)]
    assert [e["prize"] for e in final["entries"]] == [
        {"coins": 100, "badge": None},
        {"coins": 20, "badge": None},
        {"coins": 20, "badge": None},
        {"coins": 0, "badge": None},
    ]
    assert [balance(api, a) for a in ("a1", "a2", "a3", "a4", "a5")] == [20, 100, 0, 20, 0]
    assert ContestResult.objects.filter(contest_id=created["id"]).count() == 4
    finished = Activity.objects.get(type="contest.finished")
    assert finished.data["winners"] == 3
    won = Activity.objects.filter(type="contest.won").order_by("agent__external_id")
    assert [(a.agent.external_id, a.data["rank"]) for a in won] == [
        ("a1", 2),
        ("a2", 1),
        ("a4", 2),
    ]
    feed = api.get("/api/v1/activity", {"types": "contest.started,contest.finished,contest.won"})
    types = [a["type"] for a in feed.json()["results"]]
    assert sorted(types) == ["contest.finished", "contest.started"] + ["contest.won"] * 3
    assert types[-1] == "contest.started"  # newest first


def test_a_late_event_after_finalization_changes_nothing_frozen(api, floor, frozen):
    created = create(api, starts_at=at(10), ends_at=at(12))
    ingest(floor, contacts("a1", 10, 2) + contacts("a2", 10, 1))
    finish(floor, created["id"])
    before = standings(api, created["id"])
    ledger = [balance(api, a) for a in ("a1", "a2")]
    assert ledger == [100, 20]
    with time_machine.travel(local("2026-11-21", 9), tick=False):
        ingest(floor, contacts("a2", 11, 5))  # inside the window, after finalization
        contests_advance(tenant=floor)
        assert contest_finalize(contest_id=created["id"]).endswith("nothing to do")
    assert standings(api, created["id"]) == before
    assert [balance(api, a) for a in ("a1", "a2")] == ledger
    # the KPI itself moved: it is the contest's result that is frozen
    kpis = api.get("/api/v1/agents/a2/kpis", {"period": "day", "date": TODAY}).json()
    assert kpis["kpis"]["contacts_handled"]["value"] == 6
    assert Activity.objects.filter(type="contest.won").count() == 2


def test_standings_during_a_redis_outage_come_from_sql(api, floor, frozen, settings):
    created = create(api)
    ingest(floor, contacts("a1", 11, 3) + contacts("a2", 11, 1))
    live = standings(api, created["id"])
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert standings(api, created["id"]) == live
    assert table(live) == [(1, "a1", 3), (2, "a2", 1)]


def test_standings_limit_and_around(api, floor, frozen):
    created = create(api)
    ingest(
        floor,
        [
            e
            for n, ext in enumerate(["a1", "a2", "a3", "a4", "a5"])
            for e in contacts(ext, 11, 5 - n)
        ],
    )
    answer = standings(api, created["id"], limit=2, around="a4")
    assert table(answer) == [(1, "a1", 5), (2, "a2", 4)]
    assert [e["agent"] for e in answer["around"]] == ["a2", "a3", "a4", "a5"]
    assert answer["around"][2]["prize"] is None  # rank 4: no prize
    problem(api.get(f"/api/v1/contests/{created['id']}/standings", {"limit": 0}), 400)
    problem(api.get(f"/api/v1/contests/{created['id']}/standings", {"around": "zz"}), 404)


# --- guardrails, targets, teams, power hours ------------------------------------------------
def test_a_guardrail_failure_is_not_ranked_and_wins_nothing(api, floor, frozen):
    created = create(
        api,
        name="Fast and friendly",
        metric="aht",
        min_volume=2,
        guardrails=[{"kpi": "csat", "op": ">=", "value": 80}],
    )
    ingest(
        floor,
        # a1: AHT 100 (the fastest) but CSAT 3/5 = 60 % < 80
        [call("a1", local(TODAY, 11, m), talk=100) for m in range(2)]
        + [survey("a1", local(TODAY, 11, 10 + m), s) for m, s in enumerate([5, 5, 5, 1, 1])]
        # a2: AHT 200, CSAT 4/5 = 80 % → qualifies
        + [call("a2", local(TODAY, 11, m), talk=200) for m in range(2)]
        + [survey("a2", local(TODAY, 11, 10 + m), s) for m, s in enumerate([5, 5, 4, 4, 1])]
        # a3: AHT 300, CSAT 100 %
        + [call("a3", local(TODAY, 11, m), talk=300) for m in range(2)]
        + [survey("a3", local(TODAY, 11, 10), 5)]
        # a4: AHT 150 and no survey at all: the guardrail cannot be met
        + [call("a4", local(TODAY, 11, m), talk=150) for m in range(2)],
    )
    live = standings(api, created["id"])
    assert table(live) == [(1, "a2", 200), (2, "a3", 300)]
    reasons = {e["agent"]: e["reason"] for e in live["not_qualified"]}
    assert set(reasons) == {"a1", "a4"}
    assert reasons["a1"] == "csat 60 is below 80"
    assert reasons["a4"] == "needs csat ≥ 80 (no surveys yet)"
    finish(floor, created["id"])
    final = standings(api, created["id"])
    assert table(final) == [(1, "a2", 200), (2, "a3", 300)]
    assert {e["agent"]: e["reason"] for e in final["not_qualified"]} == reasons
    assert [e["prize"]["coins"] for e in final["entries"]] == [100, 20]
    assert balance(api, "a1") == 0
    assert balance(api, "a4") == 0
    assert not Activity.objects.filter(type="contest.won", agent__external_id="a1").exists()


def test_min_volume_not_qualified(api, floor, frozen):
    created = create(api, metric="aht", min_volume=3)
    ingest(
        floor,
        [call("a1", local(TODAY, 11, m), talk=100) for m in range(2)]  # 2 < 3
        + [call("a2", local(TODAY, 11, m), talk=200) for m in range(3)],
    )
    answer = standings(api, created["id"])
    assert table(answer) == [(1, "a2", 200)]
    assert [(e["agent"], e["reason"]) for e in answer["not_qualified"]] == [
        ("a1", "volume 2 under the minimum 3")
    ]


def test_target_contest_everyone_reaching_it_wins(api, floor, frozen):
    created = create(
        api,
        kind="target",
        target=5,
        prizes=[{"rank_from": 1, "rank_to": 1, "coins": 50, "badge": None}],
    )
    ingest(floor, contacts("a1", 11, 6) + contacts("a2", 11, 5) + contacts("a3", 11, 4))
    live = standings(api, created["id"])
    assert [(e["agent"], e["prize"]) for e in live["entries"]] == [
        ("a1", {"coins": 50, "badge": None}),
        ("a2", {"coins": 50, "badge": None}),
        ("a3", None),  # 4 < 5
    ]
    finish(floor, created["id"])
    assert [balance(api, a) for a in ("a1", "a2", "a3")] == [50, 50, 0]
    assert Activity.objects.filter(type="contest.won").count() == 2


def test_target_contest_on_a_lower_is_better_kpi(api, floor, frozen):
    created = create(
        api,
        kind="target",
        metric="aht",
        target=150,
        min_volume=1,
        prizes=[{"coins": 10}],
    )
    ingest(
        floor,
        [
            call("a1", local(TODAY, 11), talk=100),
            call("a2", local(TODAY, 11), talk=150),
            call("a3", local(TODAY, 11), talk=151),
        ],
    )
    finish(floor, created["id"])
    assert [balance(api, a) for a in ("a1", "a2", "a3")] == [10, 10, 0]  # AHT ≤ 150 wins


def test_team_vs_team_pays_every_agent_of_the_winning_team(api, floor, frozen):
    created = create(
        api,
        name="Tier battle",
        entity="team",
        metric="csat",
        participants={"teams": ["t1", "t2"]},
        prizes=[{"rank_from": 1, "rank_to": 1, "coins": 30, "badge": None}],
    )
    ingest(
        floor,
        # t1 (with t1a): (4 + 3 + 5) / (5 + 5 + 5) = 12/15 = 80 %
        [survey("a1", local(TODAY, 11, m), s) for m, s in enumerate([5, 5, 5, 5, 1])]
        + [survey("a2", local(TODAY, 11, m), s) for m, s in enumerate([5, 5, 5, 1, 1])]
        + [survey("a3", local(TODAY, 11, m), 5) for m in range(5)]
        # t2: 9/10 = 90 %
        + [survey("a4", local(TODAY, 11, m), s) for m, s in enumerate([5, 5, 5, 5, 1])]
        + [survey("a5", local(TODAY, 11, m), 5) for m in range(5)],
    )
    live = standings(api, created["id"])
    assert table(live) == [(1, "t2", 90), (2, "t1", 80)]
    assert live["entries"][0]["display_name"] == "Tier 2"
    finish(floor, created["id"])
    # t2 wins: each of its agents gets the coins; t1's agents nothing
    assert [balance(api, a) for a in ("a1", "a2", "a3", "a4", "a5")] == [0, 0, 0, 30, 30]
    won = Activity.objects.get(type="contest.won")
    assert (won.team.external_id, won.agent) == ("t2", None)


def test_team_points_contest_sub_teams_share_the_prize(api, floor, frozen):
    make_rule(floor, kpi="contacts_handled", kind="per_unit", points=1)
    created = create(
        api,
        entity="team",
        metric="points",
        starts_at=at(0),
        ends_at=at(0, day="2026-11-21"),
        participants={"teams": ["t1", "t2"]},
        prizes=[{"rank_from": 1, "coins": 7}],
    )
    ingest(floor, contacts("a3", 11, 4) + contacts("a4", 11, 3))
    # t1 = a3's 4 (t1a is under t1); t2 = 3
    assert table(standings(api, created["id"])) == [(1, "t1", 4), (2, "t2", 3)]
    finish(floor, created["id"])
    assert [balance(api, a) for a in ("a1", "a2", "a3", "a4")] == [7, 7, 7, 0]


def test_a_power_hour(api, floor, frozen):
    created = create(api, name="Power hour", starts_at=at(13), ends_at=at(14))
    ingest(
        floor,
        [
            call("a1", local(TODAY, 12, 59)),  # before
            call("a1", local(TODAY, 13, 0)),
            call("a1", local(TODAY, 13, 59)),
            call("a2", local(TODAY, 13, 30)),
            call("a2", local(TODAY, 14, 0)),  # after
            call("a2", local(TODAY, 14, 1)),
        ],
    )
    assert table(standings(api, created["id"])) == [(1, "a1", 2), (2, "a2", 1)]
    finish(floor, created["id"])
    assert table(standings(api, created["id"])) == [(1, "a1", 2), (2, "a2", 1)]


def test_participants_limit_the_board(api, floor, frozen):
    created = create(api, participants={"teams": ["t1a"], "agents": ["a4"]})
    ingest(floor, contacts("a1", 11, 9) + contacts("a3", 11, 2) + contacts("a4", 11, 1))
    assert table(standings(api, created["id"])) == [(1, "a3", 2), (2, "a4", 1)]


# --- recurrence, badges, profile ------------------------------------------------------------
def test_recurrence_schedules_the_next_instance(api, floor, frozen):
    created = create(api, starts_at=at(10), ends_at=at(12), recurrence="daily")
    finish(floor, created["id"])
    following = Contest.objects.get(previous_id=created["id"])
    assert following.status == "scheduled"
    assert following.starts_at == local("2026-11-21", 10)
    assert following.ends_at == local("2026-11-21", 12)
    assert (following.name, following.recurrence, following.prizes) == (
        "Afternoon sprint",
        "daily",
        PRIZES,
    )
    weekly = create(api, starts_at=at(10), ends_at=at(12), recurrence="weekly")
    finish(floor, weekly["id"])
    assert Contest.objects.get(previous_id=weekly["id"]).starts_at == local("2026-11-27", 10)


def test_monthly_recurrence(api, floor, frozen):
    created = create(
        api,
        metric="points",
        starts_at=at(0, day="2026-11-01"),
        ends_at=at(0, day="2026-11-20"),
        recurrence="monthly",
    )
    finish(floor, created["id"])
    following = Contest.objects.get(previous_id=created["id"])
    assert following.starts_at == local("2026-12-01", 0)
    assert following.ends_at == local("2026-12-20", 0)


def test_monthly_recurrence_from_the_31st(api, floor):
    with time_machine.travel(local("2026-10-31", 8), tick=False):
        created = create(
            api,
            metric="points",
            starts_at=at(0, day="2026-10-31"),
            ends_at=at(0, day="2026-11-01"),
            recurrence="monthly",
        )
    with time_machine.travel(local("2026-11-01", 3), tick=False):
        contests_advance(tenant=floor)
    assert Contest.objects.get(pk=created["id"]).status == "finished"
    following = Contest.objects.get(previous_id=created["id"])
    assert following.starts_at.astimezone(SHANGHAI).month == 11


def test_prize_badges_and_contest_place_badges(api, floor, frozen):
    champion = make_badge(floor, "champion", {"kind": "contest_place", "rank": 1}, coins=5)
    podium = make_badge(floor, "podium", {"kind": "contest_place", "rank": 3})
    trophy = make_badge(floor, "trophy", {"kind": "contest_place", "rank": 1}, repeatable=True)
    created = create(
        api,
        prizes=[
            {"rank_from": 1, "rank_to": 1, "coins": 100, "badge": "trophy"},
            {"rank_from": 2, "rank_to": 4, "coins": 10, "badge": None},
        ],
    )
    ingest(
        floor,
        [e for n, ext in enumerate(["a1", "a2", "a3", "a4"]) for e in contacts(ext, 11, 4 - n)],
    )
    assert not BadgeAward.objects.exists()  # awarded at finalization only
    finish(floor, created["id"])

    def holders(badge):
        return sorted(
            BadgeAward.objects.filter(badge=badge).values_list("agent__external_id", flat=True)
        )

    assert holders(champion) == ["a1"]
    assert holders(podium) == ["a1", "a2", "a3"]
    assert holders(trophy) == ["a1"]
    assert BadgeAward.objects.get(badge=trophy).period_key == f"contest-{created['id']}"
    # coins: 100 prize + 5 for the champion badge; others their prize
    assert [balance(api, a) for a in ("a1", "a2", "a3", "a4")] == [105, 10, 10, 10]
    codes = [b["code"] for b in api.get("/api/v1/agents/a1/badges").json()["results"]]
    assert sorted(codes) == ["champion", "podium", "trophy"]
    feed = api.get("/api/v1/activity", {"types": "badge.awarded", "agent": "a3"}).json()
    assert [a["data"]["badge"] for a in feed["results"]] == ["podium"]


def test_a_contest_place_badge_for_one_contest_only(api, floor, frozen):
    first = create(api, starts_at=at(10), ends_at=at(12))
    second = create(api, starts_at=at(10), ends_at=at(14))  # finalized 2 hours later
    only = make_badge(
        floor, "sprint-winner", {"kind": "contest_place", "rank": 1, "contest": second["id"]}
    )
    ingest(floor, contacts("a1", 11, 2))
    finish(floor, first["id"])
    assert not BadgeAward.objects.filter(badge=only).exists()
    finish(floor, second["id"])
    assert BadgeAward.objects.filter(badge=only).count() == 1


def test_contest_place_badges_do_not_depend_on_prizes(api, floor, frozen):
    podium = make_badge(floor, "podium", {"kind": "contest_place", "rank": 3})
    created = create(api, prizes=[{"rank_from": 1, "rank_to": 1, "coins": 100}])
    ingest(
        floor,
        [e for n, ext in enumerate(["a1", "a2", "a3", "a4"]) for e in contacts(ext, 11, 4 - n)],
    )
    finish(floor, created["id"])
    holders = BadgeAward.objects.filter(badge=podium).values_list("agent__external_id", flat=True)
    assert sorted(holders) == ["a1", "a2", "a3"]


def test_the_profile_lists_running_contests_with_rank_and_value(api, floor, frozen):
    sprint = create(api, name="Sprint")
    hour = create(api, name="Later", starts_at=at(16), ends_at=at(17))  # scheduled: not listed
    team_contest = create(api, name="Teams", entity="team", participants={"teams": ["t1"]})
    others = create(api, name="Tier 2 only", participants={"teams": ["t2"]})
    ingest(floor, contacts("a2", 11, 3) + contacts("a1", 11, 1))
    contests = api.get("/api/v1/agents/a1/profile").json()["contests"]
    assert contests == [
        {"id": sprint["id"], "name": "Sprint", "status": "running", "rank": 2, "value": 1}
    ]
    assert hour["id"] not in [c["id"] for c in contests]
    assert team_contest["id"] not in [c["id"] for c in contests]
    assert others["id"] not in [c["id"] for c in contests]
    # without activity yet: listed, unranked
    assert api.get("/api/v1/agents/a3/profile").json()["contests"] == [
        {"id": sprint["id"], "name": "Sprint", "status": "running", "rank": None, "value": None}
    ]
    finish(floor, sprint["id"])
    assert api.get("/api/v1/agents/a1/profile").json()["contests"] == []


def test_a_voided_event_leaves_the_live_standings(api, commit, floor, frozen):
    created = create(api)
    events = contacts("a1", 11, 1) + contacts("a2", 11, 2)
    ingest(floor, events)
    assert table(standings(api, created["id"])) == [(1, "a2", 2), (2, "a1", 1)]
    assert table(standings(api, created["id"])) == [(1, "a2", 2), (2, "a1", 1)]  # live
    response = commit(lambda: api.post(f"/api/v1/events/{events[0]['event_id']}/void"))
    assert response.status_code in (200, 202), response.content
    # a1 has no activity left in the window: in neither list (as the SQL answer says)
    from gamify.contests.services import contest_standings

    ranked, unranked = contest_standings(Contest.objects.get(pk=created["id"]))
    assert [e.external_id for e in ranked + unranked] == ["a2"]
    assert table(standings(api, created["id"])) == [(1, "a2", 2)]
