"""A rejection's reason, given in the admin (one redemption or many), is what the agent reads
over the API (their store widget reads the same `note`)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.audit.models import AuditEntry
from accounts.models import Membership
from gamify.wallet import services
from gamify.wallet.models import Redemption
from tests.wallet.helpers import balance

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/wallet/redemption/"


@pytest.fixture
def staff():
    def make(tenant, role="manager"):
        user = get_user_model().objects.create_user(
            f"{role}-{tenant.slug}", password="pw-123456789", is_staff=True
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def two(tenant, agent, other_agent, fund, make_reward):
    reward = make_reward(tenant, name="Team lunch", cost=40, stock=5)
    fund(agent, 100)
    fund(other_agent, 100)
    return [
        services.redemption_request(tenant=tenant, agent=a, reward_id=reward.pk, actor="t")[0]
        for a in (agent, other_agent)
    ]


def agent_sees(widget_client, agent):
    body = widget_client(agent).get("/api/v1/redemptions").json()
    return [(r["status"], r["note"]) for r in body["results"]]


def test_a_bulk_rejection_with_a_reason_reaches_each_agent(
    client, staff, tenant, agent, other_agent, two, widget_client
):
    manager = staff(tenant)
    client.force_login(manager)
    ids = [r.pk for r in two]
    page = client.post(CHANGELIST, {"action": "reject", "_selected_action": ids})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Team lunch × 1" in html
    assert "Bo Chen" in html
    done = client.post(
        CHANGELIST,
        {"action": "reject", "_selected_action": ids, "apply": "yes",
         "note": "The lunch budget is spent this quarter"},
    )  # fmt: skip
    assert done.status_code == 302
    reason = "The lunch budget is spent this quarter"
    assert agent_sees(widget_client, agent) == [("rejected", reason)]
    assert agent_sees(widget_client, other_agent) == [("rejected", reason)]
    assert balance(agent) == balance(other_agent) == 100  # refunded
    entries = AuditEntry.objects.filter(action="reject").order_by("id")
    assert [(e.actor, e.after["note"]) for e in entries] == [(f"user:{manager.pk}", reason)] * 2


def test_one_rejection_from_the_redemptions_page(client, staff, tenant, agent, two, widget_client):
    client.force_login(staff(tenant))
    first = two[0]
    page = client.get(f"{CHANGELIST}{first.pk}/change/").content.decode()
    assert f"{CHANGELIST}{first.pk}/reject/" in page
    form = client.get(f"{CHANGELIST}{first.pk}/reject/")
    assert form.status_code == 200
    assert 'name="note"' in form.content.decode()
    response = client.post(f"{CHANGELIST}{first.pk}/reject/", {"note": "Not in stock at your site"})
    assert response.status_code == 302
    assert agent_sees(widget_client, agent) == [("rejected", "Not in stock at your site")]
    # decided: the page no longer offers to reject
    assert "/reject/" not in client.get(f"{CHANGELIST}{first.pk}/change/").content.decode()


def test_a_too_long_reason_is_refused_naming_the_field(client, staff, tenant, two):
    client.force_login(staff(tenant))
    response = client.post(f"{CHANGELIST}{two[0].pk}/reject/", {"note": "x" * 501})
    assert response.status_code == 200
    assert "at most 500 characters" in response.content.decode()
    assert Redemption.objects.get(pk=two[0].pk).status == "requested"


def test_a_rejection_without_a_reason_clears_an_earlier_note(
    client, staff, tenant, agent, two, widget_client
):
    services.redemption_approve(
        tenant=tenant, redemption_id=two[0].pk, actor="t", note="Ships Monday"
    )
    client.force_login(staff(tenant))
    client.post(f"{CHANGELIST}{two[0].pk}/reject/", {"note": ""})
    assert agent_sees(widget_client, agent) == [("rejected", "")]


def test_the_api_rejection_reason_is_the_same_field(api, commit, tenant, agent, two, widget_client):
    response = commit(
        lambda: api.post(
            f"/api/v1/redemptions/{two[0].pk}/reject", {"note": "Duplicate"}, format="json"
        )
    )
    assert response.status_code == 200
    assert response.json()["note"] == "Duplicate"
    assert agent_sees(widget_client, agent) == [("rejected", "Duplicate")]


def test_viewers_and_other_tenants_cannot_reject(client, staff, tenant, outsider, two):
    client.force_login(staff(tenant, "viewer"))
    assert client.get(f"{CHANGELIST}{two[0].pk}/reject/").status_code == 403
    assert client.post(f"{CHANGELIST}{two[0].pk}/reject/", {"note": "x"}).status_code == 403
    client.force_login(staff(outsider))
    response = client.post(f"{CHANGELIST}{two[0].pk}/reject/", {"note": "x"})
    assert response.status_code == 404
    assert b"Team lunch" not in response.content
    page = client.post(
        CHANGELIST, {"action": "reject", "_selected_action": [two[0].pk], "apply": "yes"}
    )
    assert b"Team lunch" not in page.content
    assert [r.status for r in Redemption.objects.order_by("id")] == ["requested", "requested"]
