"""Managers configure contests in the Django admin (issue 6, item 5): tenant-scoped, the same
validation and services as the API, participants among their own teams and agents, cancel,
and the current standings on the contest's page. And the demo's three contests (item 6).

Admin times are entered and shown in the tenant's zone (issue 14, item 10); the tenant is in
Asia/Shanghai (+08:00): 10:00–18:00 local on 2026-11-20, frozen at 15:00 local (07:00 UTC).
Guardrails and prizes are rows of a table (`rows(...)` builds its inputs), KPIs and badges
choices among the tenant's own.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model

from accounts.models import Agent, Membership, Team
from accounts.services import agent_upsert, team_upsert
from gamify.contests.demo import seed_contests
from gamify.contests.models import Contest, ContestResult
from gamify.contests.services import contest_create
from kpis.periods import local_today
from kpis.services.catalogue import kpi_create
from tests.game.support import call, ingest, local, make_badge, make_rule

pytestmark = pytest.mark.django_db

ADD = "/admin/contests/contest/add/"
LIST = "/admin/contests/contest/"
NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def floor(tenant, outsider):
    for t, ext in ((tenant, "t1"), (tenant, "t2"), (outsider, "x1")):
        team_upsert(tenant=t, external_id=ext, name=f"Team {ext}", parent_external_id=None)
    for t, ext, team in ((tenant, "a1", "t1"), (tenant, "a2", "t2"), (outsider, "z1", "x1")):
        agent_upsert(tenant=t, external_id=ext, display_name=f"Agent {ext}", team_external_id=team)
    return tenant


@pytest.fixture
def manager(client, tenant):
    user = get_user_model().objects.create_user("mgr", password="pw-123456789", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role="manager")
    client.force_login(user)
    return client


def rows(name, *records):
    """The POST of a table of rows (core.admin_fields.RowsField), plus one blank row."""
    data = {f"{name}-rows": str(len(records) + 1)}
    for index, record in enumerate(records):
        data.update({f"{name}-{index}-{column}": value for column, value in record.items()})
    return data


def form(tenant, **changes):
    values = {
        "tenant": tenant.pk,
        "name": "Afternoon sprint",
        "kind": "ranked",
        "entity": "agent",
        "metric": "contacts_handled",
        "starts_at_0": "2026-11-20",
        "starts_at_1": "10:00:00",
        "ends_at_0": "2026-11-20",
        "ends_at_1": "18:00:00",
        "min_volume": "",
        "target": "",
        **rows("guardrails"),
        **rows("prizes", {"rank_from": "1", "rank_to": "1", "coins": "100", "badge": ""}),
        "recurrence": "",
        "_save": "Save",
    }
    values.update(changes)
    return values


def test_a_manager_creates_a_contest_through_the_services(manager, floor, frozen):
    t2 = Team.objects.get(tenant=floor, external_id="t2")
    response = manager.post(ADD, form(floor, teams=[t2.pk]))
    assert response.status_code == 302, response.content.decode()[:2000]
    contest = Contest.objects.get()
    # starts 10:00 local, before "now" (15:00 local): running at once, as POST /contests does
    assert contest.status == "running"
    assert contest.participants == {"teams": ["t2"], "agents": []}
    assert contest.prizes == [{"rank_from": 1, "rank_to": 1, "coins": 100, "badge": None}]


def test_a_draft_stays_a_draft(manager, floor, frozen):
    assert manager.post(ADD, form(floor, draft="on")).status_code == 302
    assert Contest.objects.get().status == "draft"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_at_1": "09:00:00"}, "ends_at"),  # before starts_at
        ({"starts_at_1": "10:30:00"}, "starts_at"),  # not on the hour
        ({"metric": "happiness"}, "metric"),
        (rows("guardrails", {"kpi": "csat", "op": "!=", "value": "80"}), "guardrails"),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(manager, floor, frozen, changes, message):
    response = manager.post(ADD, form(floor, **changes))
    assert response.status_code == 200  # the form again, with its errors
    assert message in response.content.decode()
    assert "errornote" in response.content.decode()
    assert not Contest.objects.exists()


def test_participants_are_chosen_among_the_managers_own_teams_and_agents(manager, floor):
    page = manager.get(ADD).content.decode()
    assert "Team t1" in page
    assert "Agent a1" in page
    assert "Team x1" not in page
    assert "Agent z1" not in page
    foreign = Agent.objects.get(external_id="z1")
    response = manager.post(ADD, form(floor, agents=[foreign.pk]))
    assert response.status_code == 200
    assert not Contest.objects.exists()


def test_another_tenants_contests_are_invisible(manager, floor, outsider, frozen):
    theirs = contest_create(
        tenant=outsider,
        values={"name": "Theirs", "kind": "ranked", "entity": "agent", "metric": "contacts_handled",
                "starts_at": local("2026-11-20", 10), "ends_at": local("2026-11-20", 18)},
    )  # fmt: skip
    assert "Theirs" not in manager.get(LIST).content.decode()
    response = manager.get(f"{LIST}{theirs.pk}/change/")
    assert response.status_code == 302  # the admin's "doesn't exist" redirect, not the page
    assert "Theirs" not in manager.get(response["Location"]).content.decode()


def test_cancel_action_and_the_standings_on_the_page(manager, floor, frozen):
    mine = contest_create(
        tenant=floor,
        values={"name": "Mine", "kind": "ranked", "entity": "agent", "metric": "contacts_handled",
                "starts_at": local("2026-11-20", 10), "ends_at": local("2026-11-20", 18)},
    )  # fmt: skip
    ingest(floor, [call("a1", local("2026-11-20", 11, m)) for m in range(3)])
    ingest(floor, [call("a2", local("2026-11-20", 12, m)) for m in range(2)])
    page = manager.get(f"{LIST}{mine.pk}/change/").content.decode()
    # a1 handled 3 contacts, a2 2: rank 1 is Agent a1 with 3
    assert "<td>1</td><td>Agent a1</td><td>3</td><td>3</td>" in page
    assert "<td>2</td><td>Agent a2</td><td>2</td><td>2</td>" in page
    response = manager.post(LIST, {"action": "cancel", "_selected_action": [mine.pk]})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == "cancelled"


def field_errors(response, name):
    """The messages the admin shows on one field (its errorlist), in order."""
    page = response.content.decode()
    found = re.search(rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', page, re.S)
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", found[1])] if found else []


def options(page, select_name):
    """(value, label) of the options a <select name=...> offers."""
    found = re.search(rf'<select name="{re.escape(select_name)}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no <select name={select_name!r}> on the page"
    return [
        (html.unescape(value), html.unescape(label).strip())
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>', found[1])
    ]


def test_a_shanghai_manager_enters_and_reads_shanghai_time(manager, floor, frozen):
    """14:00 typed in Shanghai is 14:00 Shanghai (06:00 UTC), stored and shown back so."""
    page = manager.get(ADD).content.decode()
    assert page.count("Asia/Shanghai time (the tenant's time zone).") == 2  # both times
    data = form(
        floor,
        starts_at_0="2026-11-24",
        starts_at_1="14:00",
        ends_at_0="2026-11-24",
        ends_at_1="15:00",
        name="Power hour",
    )
    response = manager.post(ADD, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    contest = Contest.objects.get()
    assert contest.starts_at == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert contest.ends_at == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert contest.status == "scheduled"
    page = manager.get(f"{LIST}{contest.pk}/change/").content.decode()
    assert 'name="starts_at_0" value="2026-11-24"' in page
    assert 'name="starts_at_1" value="14:00:00"' in page
    assert 'name="ends_at_1" value="15:00:00"' in page
    assert "Times on this page are Asia/Shanghai time" in page
    listing = manager.get(LIST).content.decode()
    assert "Starts at (Asia/Shanghai)" in listing
    assert "2026-11-24 14:00" in listing
    assert "2026-11-24 15:00" in listing


def test_guardrails_and_prizes_are_rows_of_choices_from_the_tenant(manager, floor, outsider):
    make_badge(floor, code="winner", criteria={"kind": "contest_place", "rank": 1}, icon="🏆")
    make_badge(outsider, code="their-badge", criteria={"kind": "contest_place", "rank": 1})
    kpi_create(
        tenant=floor,
        code="upsells",
        name="Upsells",
        unit="count",
        direction="higher_is_better",
        aggregation="sum",
        min_volume=Decimal(0),
    )
    kpi_create(
        tenant=outsider,
        code="their_kpi",
        name="Theirs",
        unit="count",
        direction="higher_is_better",
        aggregation="sum",
        min_volume=Decimal(0),
    )
    page = manager.get(ADD).content.decode()
    metrics = dict(options(page, "metric"))
    assert metrics["points"] == "Points (points)"
    assert metrics["csat"] == "Customer satisfaction (top-2-box) (csat)"
    assert metrics["upsells"] == "Upsells (upsells)"  # the tenant's custom KPI
    assert "their_kpi" not in metrics
    rail_kpis = dict(options(page, "guardrails-0-kpi"))
    assert "csat" in rail_kpis
    assert "upsells" not in rail_kpis  # guardrails are judged on built-in KPIs only
    assert options(page, "guardrails-0-op") == [
        ("", "---------"),
        (">=", "≥ at least"),
        ("<=", "≤ at most"),
    ]
    badges = options(page, "prizes-0-badge")
    assert badges == [("", "no badge"), ("winner", "🏆 Winner (winner)")]  # not their-badge


def test_a_guardrail_and_a_prize_entered_in_the_rows_reach_the_contest(manager, floor, frozen):
    make_badge(floor, code="winner", criteria={"kind": "contest_place", "rank": 1})
    later = {"starts_at_0": "2026-11-24", "ends_at_0": "2026-11-24"}  # scheduled: editable
    data = form(
        floor,
        **later,
        **rows("guardrails", {"kpi": "csat", "op": ">=", "value": "80"}),
        **rows(
            "prizes",
            {"rank_from": "1", "rank_to": "", "coins": "50", "badge": "winner"},
            {"rank_from": "2", "rank_to": "3", "coins": "", "badge": ""},
        ),
    )
    response = manager.post(ADD, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    contest = Contest.objects.get()
    assert contest.guardrails == [{"kpi": "csat", "op": ">=", "value": 80.0}]
    assert contest.prizes == [
        {"rank_from": 1, "rank_to": 1, "coins": 50, "badge": "winner"},
        {"rank_from": 2, "rank_to": 3, "coins": 0, "badge": None},
    ]
    page = manager.get(f"{LIST}{contest.pk}/change/").content.decode()
    assert '<option value="csat" selected>' in page
    assert '<option value="winner" selected>' in page
    assert 'name="prizes-1-rank_to" value="3"' in page
    # a row ticked "remove" goes, and so does a row no longer sent
    data = form(
        floor,
        **later,
        **rows("guardrails", {"kpi": "csat", "op": ">=", "value": "80", "remove": "on"}),
        **rows("prizes", {"rank_from": "1", "coins": "60", "badge": ""}),
    )
    response = manager.post(f"{LIST}{contest.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    contest.refresh_from_db()
    assert contest.guardrails == []
    assert contest.prizes == [{"rank_from": 1, "rank_to": 1, "coins": 60, "badge": None}]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            rows("guardrails", {"kpi": "csat", "op": ">=", "value": "eighty"}),
            "guardrails",
            "Row 1, value: Enter a number.",
        ),
        (
            rows("guardrails", {"kpi": "csat", "op": "", "value": "80"}),
            "guardrails",
            "Row 1, comparison: This field is required.",
        ),
        (
            rows("prizes", {"rank_from": "3", "rank_to": "2", "coins": "5"}),
            "prizes",
            "Row 1, to rank: Must be at least rank_from.",
        ),
        (
            rows("prizes", {"rank_from": "1", "coins": "2000000"}),
            "prizes",
            "Row 1, coins: A whole number from 0 to 1000000.",
        ),
        (
            rows("prizes", {"rank_from": "1", "coins": "5", "badge": "their-badge"}),
            "prizes",
            "Row 1, badge: Select a valid choice. their-badge is not one of the available choices.",
        ),
        (
            {"metric": "happiness"},
            "metric",
            "Select a valid choice. happiness is not one of the available choices.",
        ),
        (
            rows("guardrails", {"kpi": "turnover", "op": "<=", "value": "5"}),
            "guardrails",
            "Row 1, KPI: A built-in KPI measured for the entity.",
        ),
    ],
)
def test_a_bad_value_is_an_error_on_its_field(
    manager, floor, outsider, frozen, changes, field, message
):
    make_badge(outsider, code="their-badge", criteria={"kind": "contest_place", "rank": 1})
    response = manager.post(ADD, form(floor, **changes))
    assert response.status_code == 200  # the form again, with its errors
    assert field_errors(response, field) == [message]
    assert not Contest.objects.exists()


def test_the_admin_refuses_what_the_api_refuses_in_the_same_words(manager, floor, api, frozen):
    bad = {"rank_from": 3, "rank_to": 2, "coins": 5}
    body = {
        "name": "Sprint",
        "kind": "ranked",
        "entity": "agent",
        "metric": "contacts_handled",
        "starts_at": "2026-11-24T14:00:00+08:00",
        "ends_at": "2026-11-24T15:00:00+08:00",
        "prizes": [bad],
    }
    answer = api.post("/api/v1/contests", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"prizes.0.rank_to": ["Must be at least rank_from."]}
    response = manager.post(ADD, form(floor, **rows("prizes", {k: str(v) for k, v in bad.items()})))
    assert field_errors(response, "prizes") == ["Row 1, to rank: Must be at least rank_from."]
    assert not Contest.objects.exists()


def test_the_demo_has_running_team_and_finished_contests(floor):
    team_upsert(tenant=floor, external_id="support-t1", name="S1", parent_external_id=None)
    team_upsert(tenant=floor, external_id="support-t2", name="S2", parent_external_id=None)
    team_upsert(tenant=floor, external_id="sales", name="Sales", parent_external_id=None)
    day = local_today(floor) - timedelta(days=7)  # in last week, whatever today is
    ingest(floor, [call("a1", local(day, 10, m)) for m in range(4)])
    make_rule(floor, kpi="contacts_handled", kind="per_unit", points=5, period="day")
    make_badge(
        floor, code="contest-winner", criteria={"kind": "contest_place", "contest": None, "rank": 1}
    )
    seed_contests(floor)
    seed_contests(floor)  # re-running adds nothing
    contests = {c.name: c for c in Contest.objects.for_tenant(floor)}
    assert len(contests) == 3
    race = contests["Resolution race"]
    assert (race.status, race.entity, race.metric) == ("running", "agent", "fcr")
    team = contests["AHT team challenge (CSAT ≥ 80 %)"]
    assert (team.status, team.entity) == ("running", "team")
    assert team.guardrails == [{"kpi": "csat", "op": ">=", "value": 80}]
    sprint = contests["Last week's points sprint"]
    assert sprint.status == "finished"
    winner = ContestResult.objects.get(contest=sprint, rank=1)
    # 4 contacts × 5 points: a1 won last week's sprint and its 100 coins
    assert (winner.entity_id, winner.value, winner.prize_coins) == (
        Agent.objects.get(tenant=floor, external_id="a1").pk,
        20,
        100,
    )


def test_a_running_contest_cannot_be_edited_and_the_page_says_only_that(manager, floor, frozen):
    assert manager.post(ADD, form(floor)).status_code == 302
    contest = Contest.objects.get()
    assert contest.status == "running"
    change = f"/admin/contests/contest/{contest.pk}/change/"
    response = manager.post(change, form(floor, name="Renamed"), follow=True)
    page = html.unescape(response.content.decode())
    assert "A running contest can no longer be changed; cancel it instead." in page
    assert "was changed successfully" not in page
    contest.refresh_from_db()
    assert contest.name == "Afternoon sprint"
