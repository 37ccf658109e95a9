"""The admin is scoped by membership: managers see and change only their tenants."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Agent, AgentHistory, Membership
from accounts.services import agent_upsert, team_upsert

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(tenant):
    def make(role):
        user = get_user_model().objects.create_user(
            f"{role}-user", password="pw-123456789", is_staff=True
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def two_tenants(tenant, outsider, agent):
    team_upsert(tenant=outsider, external_id="x1", name="Their team", parent_external_id=None)
    theirs, _ = agent_upsert(
        tenant=outsider,
        external_id="their-agent",
        display_name="Zed Outsider",
        team_external_id="x1",
    )
    return agent, theirs


def test_manager_sees_only_own_tenant(client, staff, two_tenants):
    ours, theirs = two_tenants
    client.force_login(staff("manager"))
    page = client.get("/admin/accounts/agent/").content.decode()
    assert "Ann Lee" in page
    assert "Zed Outsider" not in page
    assert client.get(f"/admin/accounts/agent/{ours.pk}/change/").status_code == 200
    # another tenant's object does not exist for them
    assert client.get(f"/admin/accounts/agent/{theirs.pk}/change/").status_code == 302
    tenants = client.get("/admin/accounts/tenant/").content.decode()
    assert "Acme Support" in tenants
    assert "Outsider Inc" not in tenants


def test_viewer_cannot_change(client, staff, two_tenants):
    ours, _ = two_tenants
    client.force_login(staff("viewer"))
    assert client.get(f"/admin/accounts/agent/{ours.pk}/change/").status_code == 200
    response = client.post(
        f"/admin/accounts/agent/{ours.pk}/change/",
        {
            "tenant": ours.tenant_id,
            "external_id": "a1",
            "display_name": "Hacked",
            "locale": "en",
            "active": "on",
        },
    )
    assert response.status_code == 403
    assert Agent.objects.get(pk=ours.pk).display_name == "Ann Lee"


def test_manager_edit_goes_through_the_service(client, staff, two_tenants, team):
    ours, _ = two_tenants
    client.force_login(staff("manager"))
    form = {
        "tenant": ours.tenant_id,
        "external_id": "a1",
        "display_name": "Ann Lee",
        "locale": "en",
        "team": "",
        "history-TOTAL_FORMS": "0",
        "history-INITIAL_FORMS": "1",
        "history-MIN_NUM_FORMS": "0",
        "history-MAX_NUM_FORMS": "1000",
    }
    response = client.post(f"/admin/accounts/agent/{ours.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    ours.refresh_from_db()
    assert ours.active is False
    assert ours.team is None
    assert AgentHistory.objects.filter(agent=ours).count() == 2


def test_manager_cannot_pick_another_tenant(client, staff, two_tenants, outsider):
    client.force_login(staff("manager"))
    response = client.post(
        "/admin/accounts/team/add/",
        {"tenant": outsider.pk, "external_id": "sneaky", "name": "Sneaky"},
    )
    assert response.status_code == 200  # the form is shown again with an error
    assert "Select a valid choice" in response.content.decode()


def test_team_cycle_is_refused_in_admin(client, staff, tenant, team):
    child, _ = team_upsert(tenant=tenant, external_id="t1a", name="Sub", parent_external_id="t1")
    client.force_login(staff("manager"))
    response = client.post(
        f"/admin/accounts/team/{team.pk}/change/",
        {"tenant": tenant.pk, "external_id": "t1", "name": "Tier 1", "parent": child.pk},
    )
    assert response.status_code == 200
    assert "cycle" in response.content.decode()
