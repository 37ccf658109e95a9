"""The admin is scoped by membership: managers see and change only their tenants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model

from accounts.models import Agent, AgentHistory, ApiKey, Membership
from accounts.services import agent_upsert, api_key_create, team_upsert

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


# --- times in the tenant's zone (issue 14, item 10); the tenant is in Asia/Shanghai ---------
NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai, 08:00 in Berlin


def test_an_api_key_expiry_is_read_and_shown_in_the_tenants_zone(client, staff, tenant):
    client.force_login(staff("manager"))
    page = client.get("/admin/accounts/apikey/add/").content.decode()
    assert "Asia/Shanghai time (the tenant's time zone)." in page
    form = {
        "tenant": tenant.pk,
        "name": "Nightly export",
        "scopes": ["read"],
        "expiry_date_0": "2026-12-31",
        "expiry_date_1": "23:00",
    }
    with time_machine.travel(NOW, tick=False):
        response = client.post("/admin/accounts/apikey/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    key = ApiKey.objects.get(name="Nightly export")
    assert key.expiry_date == datetime(2026, 12, 31, 15, 0, tzinfo=UTC)
    page = client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    assert 'name="expiry_date_1" value="23:00:00"' in page
    listing = client.get("/admin/accounts/apikey/").content.decode()
    assert "Created (Asia/Shanghai)" in listing
    assert "2026-11-20 15:00" in listing


def test_with_tenants_in_several_zones_each_cell_names_its_zone(client, tenant, outsider):
    with time_machine.travel(NOW, tick=False):
        api_key_create(tenant=tenant, scopes=["read"], name="ours")
        api_key_create(tenant=outsider, scopes=["read"], name="theirs")
    admin = get_user_model().objects.create_superuser("root", "", "pw-123456789")
    client.force_login(admin)
    listing = client.get("/admin/accounts/apikey/").content.decode()
    assert "2026-11-20 15:00 Asia/Shanghai" in listing
    assert "2026-11-20 08:00 Europe/Berlin" in listing
    page = client.get("/admin/accounts/apikey/add/").content.decode()
    assert "In the chosen tenant's time zone." in page
