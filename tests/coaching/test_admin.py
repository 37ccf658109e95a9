"""Managers in the admin: goals and alert rules through the services the API uses (the same
errors), scorecard pages per agent and team linked from their change pages, tenant-scoped."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Agent, Membership, Team
from gamify.coaching.models import AlertRule, Goal

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client, tenant):
    user = get_user_model().objects.create_user("coach", password="pw-123456789", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role="manager")
    client.force_login(user)
    return client


def errors_of(response) -> str:
    assert response.status_code == 200  # the form again, with its errors
    text = html.unescape(response.content.decode())
    return " ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', text, re.S))


def goal_form(tenant, **values):
    return {
        "tenant": tenant.pk,
        "name": "",
        "kpi": "aht",
        "op": "",
        "target": "150",
        "period": "week",
        "start": "",
        "deadline": "",
        "agent": "",
        "team": "",
        "min_volume": "",
        "active": "on",
        **values,
    }


def test_goal_admin_uses_the_services_validation(manager, tenant, floor, commit):
    a1 = Agent.objects.get(tenant=tenant, external_id="a1")
    response = manager.post("/admin/coaching/goal/add/", goal_form(tenant, agent=a1.pk))
    assert response.status_code == 302, errors_of(response)
    goal = Goal.objects.get()
    assert (goal.agent_id, goal.op, goal.period) == (a1.pk, "<=", "week")
    # the API's messages, on the form's fields
    bad = manager.post(
        "/admin/coaching/goal/add/", goal_form(tenant, period="", deadline="2026-11-01")
    )
    assert "Must not be in the past." in errors_of(bad)
    both = manager.post("/admin/coaching/goal/add/", goal_form(tenant, deadline="2026-12-01"))
    assert "Give either a period (recurring) or a deadline." in errors_of(both)
    team = manager.post(
        "/admin/coaching/goal/add/",
        goal_form(tenant, agent=a1.pk, team=Team.objects.get(external_id="t1").pk),
    )
    assert "A goal is for one agent, one team or the tenant." in errors_of(team)
    assert Goal.objects.count() == 1
    listing = manager.get("/admin/coaching/goal/")
    assert listing.status_code == 200
    assert "on track" in listing.content.decode() or "at risk" in listing.content.decode()


def rule_form(tenant, **values):
    return {
        "tenant": tenant.pk,
        "name": "Fast",
        "kind": "exceeds",
        "basis": "team_average",
        "kpi": "aht",
        "percent": "10",
        "periods": "1",
        "period": "day",
        "min_volume": "",
        "cooldown_minutes": "240",
        "active": "on",
        **values,
    }


def test_alert_rule_admin(manager, tenant, floor):
    response = manager.post("/admin/coaching/alertrule/add/", rule_form(tenant))
    assert response.status_code == 302, errors_of(response)
    assert AlertRule.objects.get().kpi == "aht"
    zero = manager.post("/admin/coaching/alertrule/add/", rule_form(tenant, periods="0"))
    assert "Must be a whole number from 1 to 52." in errors_of(zero)
    nokpi = manager.post("/admin/coaching/alertrule/add/", rule_form(tenant, kpi=""))
    assert "Unknown KPI ''." in errors_of(nokpi)
    assert AlertRule.objects.count() == 1


def test_scorecard_pages_linked_from_agent_and_team(manager, tenant, floor):
    a1 = Agent.objects.get(tenant=tenant, external_id="a1")
    t1 = Team.objects.get(tenant=tenant, external_id="t1")
    change = manager.get(f"/admin/accounts/agent/{a1.pk}/change/").content.decode()
    link = f"/admin/coaching/goal/scorecard/agent/{a1.pk}/"
    assert link in change
    page = manager.get(link, {"period": "week", "date": "2026-11-18"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Average handle time" in text
    assert "2026-11-16 00:00" in text
    assert "Asia/Shanghai" in text
    assert "<td>175.0</td>" in text  # the team average of the fixed week
    team_link = f"/admin/coaching/goal/scorecard/team/{t1.pk}/"
    assert team_link in manager.get(f"/admin/accounts/team/{t1.pk}/change/").content.decode()
    team_page = manager.get(team_link, {"period": "week", "date": "2026-11-18", "sort": "aht"})
    assert team_page.status_code == 200
    names = re.findall(r'scorecard/agent/\d+/">(\w+)</a>', team_page.content.decode())
    assert names == ["Ann", "Cy", "Bo"]
    bad = manager.get(team_link, {"sort": "nope"})
    assert bad.status_code == 200  # the message, and the page sorted by name


def test_another_tenants_scorecard_is_not_found(client, outsider, tenant, floor):
    user = get_user_model().objects.create_user("other", password="pw-123456789", is_staff=True)
    Membership.objects.create(user=user, tenant=outsider, role="manager")
    client.force_login(user)
    a1 = Agent.objects.get(tenant=tenant, external_id="a1")
    assert client.get(f"/admin/coaching/goal/scorecard/agent/{a1.pk}/").status_code == 404
    t1 = Team.objects.get(tenant=tenant, external_id="t1")
    assert client.get(f"/admin/coaching/goal/scorecard/team/{t1.pk}/").status_code == 404
