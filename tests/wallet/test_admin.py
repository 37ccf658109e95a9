"""The admin: managers keep the catalogue and decide redemptions of their own tenants only,
through the services; the ledger is read-only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model

from accounts.models import Membership
from accounts.services import agent_upsert
from gamify.activity.models import Activity
from gamify.wallet import services
from gamify.wallet.models import LedgerEntry, Redemption, Reward
from tests.wallet.helpers import balance, ledger_sum

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/wallet/redemption/"


@pytest.fixture
def staff():
    def make(tenant, role="manager", name=None):
        user = get_user_model().objects.create_user(
            name or f"{role}-{tenant.slug}", password="pw-123456789", is_staff=True
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def requested(tenant, agent, fund, make_reward):
    reward = make_reward(tenant, name="Team lunch", cost=40, stock=2)
    fund(agent, 100)
    redemption, _ = services.redemption_request(
        tenant=tenant, agent=agent, reward_id=reward.pk, actor="t"
    )
    return redemption


def bulk(client, action, *redemptions):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [r.pk for r in redemptions]}
    )


def test_manager_approves_and_fulfils_with_bulk_actions(client, staff, tenant, requested):
    manager = staff(tenant)
    client.force_login(manager)
    assert "Team lunch" in client.get(CHANGELIST).content.decode()
    assert bulk(client, "approve", requested).status_code == 302
    requested.refresh_from_db()
    assert requested.status == "approved"
    assert requested.decided_by == f"user:{manager.pk}"
    assert Activity.objects.filter(type="redemption.approved").count() == 1
    bulk(client, "fulfil", requested)
    requested.refresh_from_db()
    assert requested.status == "fulfilled"
    # an invalid transition is reported, not a crash
    response = client.post(
        CHANGELIST, {"action": "reject", "_selected_action": [requested.pk]}, follow=True
    )
    assert "cannot be rejected" in response.content.decode()
    requested.refresh_from_db()
    assert requested.status == "fulfilled"


def test_bulk_reject_refunds(client, staff, tenant, agent, requested):
    client.force_login(staff(tenant))
    asked = bulk(client, "reject", requested)  # first the page asking for the reason
    assert asked.status_code == 200
    assert 'name="note"' in asked.content.decode()
    requested.refresh_from_db()
    assert requested.status == "requested"
    client.post(
        CHANGELIST,
        {"action": "reject", "_selected_action": [requested.pk], "apply": "yes", "note": ""},
    )
    requested.refresh_from_db()
    assert requested.status == "rejected"
    assert balance(agent) == ledger_sum(agent) == 100
    assert Reward.objects.get().stock == 2


def test_manager_of_another_tenant_cannot_see_or_decide(client, staff, outsider, requested):
    client.force_login(staff(outsider))
    assert "Team lunch" not in client.get(CHANGELIST).content.decode()
    assert client.get(f"{CHANGELIST}{requested.pk}/change/").status_code == 302
    bulk(client, "approve", requested)
    requested.refresh_from_db()
    assert requested.status == "requested"
    assert "Ann Lee" not in client.get("/admin/wallet/ledgerentry/").content.decode()


def test_viewer_cannot_decide(client, staff, tenant, requested):
    client.force_login(staff(tenant, role="viewer"))
    assert client.get(CHANGELIST).status_code == 200
    bulk(client, "approve", requested)
    requested.refresh_from_db()
    assert requested.status == "requested"


def test_a_viewer_here_and_manager_elsewhere_cannot_decide_here(
    client, staff, tenant, outsider, requested
):
    user = staff(tenant, role="viewer", name="mixed")
    Membership.objects.create(user=user, tenant=outsider, role="manager")
    client.force_login(user)
    bulk(client, "approve", requested)
    requested.refresh_from_db()
    assert requested.status == "requested"


def test_the_ledger_is_read_only(client, staff, tenant, requested):
    client.force_login(staff(tenant))
    entry = LedgerEntry.objects.filter(kind="redemption").get()
    assert "Team lunch" in client.get("/admin/wallet/ledgerentry/").content.decode()
    page = client.get(f"/admin/wallet/ledgerentry/{entry.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(f"/admin/wallet/ledgerentry/{entry.pk}/change/", {}).status_code == 403
    assert client.get("/admin/wallet/ledgerentry/add/").status_code == 403
    assert client.get(f"/admin/wallet/ledgerentry/{entry.pk}/delete/").status_code == 403
    assert client.get(f"{CHANGELIST}add/").status_code == 403


def test_manager_adds_a_reward_through_the_service(client, staff, tenant, outsider):
    client.force_login(staff(tenant))
    form = {
        "tenant": tenant.pk,
        "name": "Parking spot",
        "description": "",
        "image_url": "",
        "cost": "200",
        "stock": "3",
        "per_agent_monthly_limit": "",
        "active": "on",
    }
    assert client.post("/admin/wallet/reward/add/", form).status_code == 302
    reward = Reward.objects.get()
    assert (reward.tenant_id, reward.cost, reward.stock, reward.image_url) == (
        tenant.pk,
        200,
        3,
        None,
    )
    bad = client.post("/admin/wallet/reward/add/", {**form, "cost": "0", "name": "Free"})
    assert bad.status_code == 200  # the form shows the service's message
    assert "Must be from 1" in bad.content.decode()
    insecure = {**form, "name": "Img", "image_url": "http://example.com/a.png"}
    assert "https://" in client.post("/admin/wallet/reward/add/", insecure).content.decode()
    # another tenant is not a choice
    assert (
        client.post("/admin/wallet/reward/add/", {**form, "tenant": outsider.pk}).status_code == 200
    )
    assert Reward.objects.count() == 1


def test_deleting_a_redeemed_reward_deactivates_it(client, staff, tenant, requested):
    client.force_login(staff(tenant))
    reward = requested.reward
    response = client.post(f"/admin/wallet/reward/{reward.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    reward.refresh_from_db()
    assert reward.active is False
    assert Redemption.objects.filter(pk=requested.pk).exists()


def test_admin_pages_render(client, staff, tenant, requested):
    agent_upsert(tenant=tenant, external_id="z", display_name="Z", team_external_id=None)
    client.force_login(staff(tenant))
    for url in (
        "/admin/wallet/reward/",
        f"/admin/wallet/reward/{requested.reward_id}/change/",
        f"{CHANGELIST}{requested.pk}/change/",
        "/admin/wallet/wallet/",
        "/admin/wallet/conversionrule/",
    ):
        assert client.get(url).status_code == 200, url


def test_read_only_times_are_the_tenants_and_say_so(
    client, staff, tenant, agent, fund, make_reward
):
    """The ledger's and a redemption's times, on their pages and in their lists, are in the
    tenant's zone (Asia/Shanghai): 20:00 UTC on the 19th is 04:00 on the 20th there."""
    reward = make_reward(tenant, name="Team lunch", cost=40, stock=2)
    with time_machine.travel(datetime(2026, 11, 19, 20, 0, tzinfo=UTC), tick=False):
        fund(agent, 100)
        redemption, _ = services.redemption_request(
            tenant=tenant, agent=agent, reward_id=reward.pk, actor="t"
        )
    client.force_login(staff(tenant))
    page = client.get(f"{CHANGELIST}{redemption.pk}/change/").content.decode()
    assert "Times on this page are Asia/Shanghai time" in page
    assert "Nov. 20, 2026, 4 a.m." in page  # created_at, read-only
    listing = client.get(CHANGELIST).content.decode()
    assert "Created at (Asia/Shanghai)" in listing
    assert "2026-11-20 04:00" in listing
    ledger = "/admin/wallet/ledgerentry/?created_at__year=2026&created_at__month=11"
    assert "2026-11-20 04:00" in client.get(ledger).content.decode()
    # the date drill-down counts the tenant's days
    assert "Team lunch" in client.get(f"{ledger}&created_at__day=20").content.decode()
    assert "Team lunch" not in client.get(f"{ledger}&created_at__day=19").content.decode()
