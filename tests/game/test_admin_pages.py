"""The agent and team admin pages: this week's KPIs, points and badges in the tenant's week;
a coins grant and a points adjustment from the agent page, through the API's services."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model

from accounts.audit.models import AuditEntry
from accounts.models import Membership
from accounts.services import agent_upsert, team_upsert
from gamify.activity.models import Activity
from gamify.game.models import BadgeAward, PointAdjustment
from gamify.wallet.models import LedgerEntry, Wallet
from tests.game.support import call, ingest, local, make_badge, make_rule

pytestmark = pytest.mark.django_db

# Thursday 2026-11-19, 15:00 in Shanghai: the tenant's week is Mon 16 – Sun 22 November.
NOW = datetime(2026, 11, 19, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff():
    def make(tenant, role="manager"):
        user = get_user_model().objects.create_user(
            f"{role}-{tenant.slug}-{uuid.uuid4().hex[:6]}", password="pw-123456789", is_staff=True
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


def page_of(client, agent):
    return client.get(f"/admin/accounts/agent/{agent.pk}/change/")


def grant_form(client, agent, **values):
    return client.post(
        f"/admin/accounts/agent/{agent.pk}/grant/",
        {"key": str(uuid.uuid4()), **values},
    )


def test_the_agent_page_shows_this_weeks_kpis_points_and_badges(
    client, staff, tenant, agent, django_assert_max_num_queries
):
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10)
    make_badge(tenant, "three", {"kind": "count", "kpi": "contacts_handled", "count": 3})
    # Sunday 15 November 23:30 Shanghai is last week; Monday 16 00:30 is this week.
    ingest(tenant, [call("a1", local("2026-11-15", 23, 30))])
    ingest(tenant, [call("a1", local("2026-11-16", 0, 30)), call("a1", local("2026-11-18", 9))])
    ingest(tenant, [call("a1", local("2026-11-19", 9, m), talk=60) for m in range(2)])
    client.force_login(staff(tenant))
    with django_assert_max_num_queries(40):
        response = page_of(client, agent)
    assert response.status_code == 200
    html = response.content.decode()
    assert "This week (2026-11-16 – 2026-11-22, Asia/Shanghai time)" in html
    kpis = html[html.index("gamify-week-kpis") :]
    # 4 contacts this week (not the Sunday one); AHT (120 + 120 + 60 + 60) / 4 = 90 s.
    row = re.search(r"<code>contacts_handled</code></th><td>([^<]*)</td>", kpis)
    assert row is not None
    assert row.group(1).strip() == "4.0"
    aht = re.search(r"<code>aht</code></th><td>([^<]*)</td>", kpis)
    assert aht is not None
    assert aht.group(1).strip() == "90.0 seconds"
    points = html[html.index("gamify-week-points") : html.index("gamify-week-kpis")]
    cells = re.findall(r"<td>(\d+)</td>", points)
    # day (today: 2 × 10), week (4 × 10), month (5 × 10), lifetime (5 × 10)
    assert cells == ["20", "40", "50", "50"]
    assert "Badges: 1 this week, 1 in all" in html
    assert "Three" in html[html.index("gamify-week-badges") :]


def test_the_team_page_shows_the_teams_week(client, staff, tenant, agent, team):
    team_upsert(tenant=tenant, external_id="t1a", name="Sub", parent_external_id="t1")
    agent_upsert(tenant=tenant, external_id="a2", display_name="Bo Chen", team_external_id="t1a")
    make_rule(tenant, kpi="contacts_handled", kind="per_unit", points=10)
    ingest(tenant, [call("a1", local("2026-11-17", 9)), call("a2", local("2026-11-18", 9))])
    ingest(tenant, [call("a2", local("2026-11-10", 9))])  # last week
    client.force_login(staff(tenant, "viewer"))
    html = client.get(f"/admin/accounts/team/{team.pk}/change/").content.decode()
    kpis = html[html.index("gamify-week-kpis") :]
    row = re.search(r"<code>contacts_handled</code></th><td>([^<]*)</td>", kpis)
    assert row is not None
    assert row.group(1).strip() == "2.0"
    points = html[html.index("gamify-week-points") : html.index("gamify-week-kpis")]
    assert re.findall(r"<td>(\d+)</td>", points) == ["20", "30"]  # week, lifetime


def test_a_grant_from_the_agent_page_moves_coins_exactly_as_the_api(
    client, staff, tenant, agent, api, commit
):
    agent_upsert(tenant=tenant, external_id="a2", display_name="Bo Chen", team_external_id="t1")
    manager = staff(tenant)
    client.force_login(manager)
    response = grant_form(client, agent, amount="25", reason="Great save on the outage")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/accounts/agent/{agent.pk}/change/#game-actions")
    by_api = commit(
        lambda: api.post(
            "/api/v1/agents/a2/wallet/grants",
            {"amount": 25, "reason": "Great save on the outage"},
            format="json",
        )
    )
    assert by_api.status_code == 201
    page, other = (LedgerEntry.objects.get(agent__external_id=a) for a in ("a1", "a2"))
    fields = ("amount", "balance_after", "kind", "reference")
    assert [getattr(page, f) for f in fields] == [25, 25, "grant", "Great save on the outage"]
    assert [getattr(page, f) for f in fields] == [getattr(other, f) for f in fields]
    assert page.actor == f"user:{manager.pk}"
    assert Wallet.objects.get(agent=agent).balance == 25
    events = Activity.objects.filter(type="wallet.granted").order_by("id")
    assert [e.data["amount"] for e in events] == [25, 25]
    assert [e.data["reason"] for e in events] == ["Great save on the outage"] * 2
    entries = AuditEntry.objects.filter(action="grant").order_by("id")
    assert [(e.actor_kind, e.object_id, e.after["amount"]) for e in entries] == [
        ("user", "a1", 25),
        ("api_key", "a2", 25),
    ]
    assert entries[0].actor_name == manager.username
    assert entries[0].before == {"balance": 0}
    # the page says so
    assert "Granted 25 coins" in client.get(response["Location"]).content.decode()


def test_a_double_submitted_grant_form_grants_once(client, staff, tenant, agent):
    client.force_login(staff(tenant))
    form = {"key": str(uuid.uuid4()), "amount": "10", "reason": "kudos"}
    for _ in range(2):
        assert client.post(f"/admin/accounts/agent/{agent.pk}/grant/", form).status_code == 302
    assert Wallet.objects.get(agent=agent).balance == 10
    assert AuditEntry.objects.filter(action="grant").count() == 1


def test_a_bad_grant_is_refused_naming_the_field(client, staff, tenant, agent):
    client.force_login(staff(tenant))
    response = grant_form(client, agent, amount="0", reason="x")
    html = client.get(response["Location"]).content.decode()
    assert "The grant was refused — Coins: Ensure this value is greater than or equal to 1." in html
    response = grant_form(client, agent, amount="5", reason="   ")
    assert "Reason" in client.get(response["Location"]).content.decode()
    assert not LedgerEntry.objects.exists()


def test_a_points_adjustment_from_the_agent_page_is_the_apis(
    client, staff, tenant, agent, api, commit
):
    agent_upsert(tenant=tenant, external_id="a2", display_name="Bo Chen", team_external_id="t1")
    client.force_login(staff(tenant))
    response = client.post(
        f"/admin/accounts/agent/{agent.pk}/adjust/", {"points": "-30", "reason": "Duplicate"}
    )
    assert response.status_code == 302
    by_api = commit(
        lambda: api.post(
            "/api/v1/agents/a2/points/adjustments",
            {"points": -30, "reason": "Duplicate"},
            format="json",
        )
    )
    assert by_api.status_code == 201
    rows = {a.agent.external_id: a for a in PointAdjustment.objects.select_related("agent")}
    assert (rows["a1"].points, rows["a1"].reason, str(rows["a1"].day)) == (
        -30,
        "Duplicate",
        "2026-11-19",
    )
    assert (rows["a2"].points, rows["a2"].reason, rows["a2"].day) == (
        rows["a1"].points,
        rows["a1"].reason,
        rows["a1"].day,
    )
    html = page_of(client, agent).content.decode()
    points = html[html.index("gamify-week-points") : html.index("gamify-week-kpis")]
    assert re.findall(r"<td>(-?\d+)</td>", points) == ["-30", "-30", "-30", "-30"]
    assert list(
        AuditEntry.objects.filter(action="adjust")
        .order_by("id")
        .values_list("actor_kind", "object_id")
    ) == [("user", "a1"), ("api_key", "a2")]


def test_a_viewer_sees_the_figures_but_no_forms_and_cannot_post(client, staff, tenant, agent):
    client.force_login(staff(tenant, "viewer"))
    html = page_of(client, agent).content.decode()
    assert "gamify-week-kpis" in html
    assert "Grant coins" not in html
    assert grant_form(client, agent, amount="5", reason="x").status_code == 403
    response = client.post(
        f"/admin/accounts/agent/{agent.pk}/adjust/", {"points": "5", "reason": "x"}
    )
    assert response.status_code == 403
    assert not LedgerEntry.objects.exists()
    assert not PointAdjustment.objects.exists()


def test_another_tenants_manager_gets_nothing(client, staff, tenant, outsider, agent):
    client.force_login(staff(outsider))
    assert page_of(client, agent).status_code == 302  # "does not exist", back to the index
    assert grant_form(client, agent, amount="5", reason="x").status_code == 404
    response = client.post(
        f"/admin/accounts/agent/{agent.pk}/adjust/", {"points": "5", "reason": "x"}
    )
    assert response.status_code == 404
    assert b"Ann Lee" not in response.content
    assert not LedgerEntry.objects.exists()
    assert not PointAdjustment.objects.exists()


def test_grant_and_adjust_only_take_posts(client, staff, tenant, agent):
    client.force_login(staff(tenant))
    assert client.get(f"/admin/accounts/agent/{agent.pk}/grant/").status_code == 405


def test_the_pages_queries_do_not_grow_with_badges_or_members(
    client, staff, tenant, agent, team, count_queries
):
    badge = make_badge(tenant, "daily", {"kind": "points", "points": 1}, repeatable=True)
    client.force_login(staff(tenant))

    def award(count: int, offset: int) -> None:
        for n in range(count):
            who, _ = agent_upsert(
                tenant=tenant,
                external_id=f"m{offset + n}",
                display_name=f"Member {offset + n}",
                team_external_id="t1",
            )
            for target in (agent, who):
                BadgeAward.objects.get_or_create(
                    tenant=tenant,
                    badge=badge,
                    agent=target,
                    period_key=f"2026-11-{offset + n:02d}",
                    defaults={"awarded_at": NOW},
                )

    award(1, 1)
    pages = (f"/admin/accounts/agent/{agent.pk}/change/", f"/admin/accounts/team/{team.pk}/change/")
    for url in pages:
        client.get(url)  # warm: the session and the caches of a first request
    few = [count_queries(lambda url=url: client.get(url)) for url in pages]
    award(25, 2)
    many = [count_queries(lambda url=url: client.get(url)) for url in pages]
    assert many == few, (few, many)


def test_the_point_rule_list_reads_the_kpi_names_once_whatever_its_length(
    client, staff, tenant, agent, count_queries
):
    """The KPI column names each rule's KPI (a built-in's in the manager's language) from one
    catalogue read per tenant on the page, not one per row."""
    client.force_login(staff(tenant))
    make_rule(tenant, kind="per_unit", kpi="contacts_handled", points=1)
    url = "/admin/game/pointrule/"
    client.get(url)  # warm: the session and the caches of a first request
    few = count_queries(lambda: client.get(url))
    for n in range(12):
        make_rule(tenant, kind="per_unit", kpi="fcr", points=n + 2, name=f"FCR rule {n}")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="fa")
    assert page.status_code == 200
    assert count_queries(lambda: client.get(url)) == few
    cells = re.findall(r'<td class="field-kpi">([^<]*)</td>', page.content.decode())
    assert len(cells) == 13
    assert "fcr" not in cells  # the KPI's name, not its code
