"""The admin per role: owners and managers run the game, viewers only look, and a manager of
another tenant gets nothing of this one — no list row, page, export, action or byte."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model

from accounts.audit.models import AuditEntry
from accounts.models import Membership
from accounts.services import agent_upsert, team_upsert
from gamify.game import services as game
from gamify.wallet import services as wallet
from gamify.wallet.models import LedgerEntry, Redemption
from tests.game.support import call, ingest, local

pytestmark = pytest.mark.django_db

# What of the tenant must never reach the outsider: names of its people and game (not the
# agent's id "a1": two characters turn up by chance in a page's CSRF token).
OURS = ("Ann Lee", "Acme Support", "Tier 1", "Per contact", "Secret lunch", "Ace agent")


@pytest.fixture
def staff():
    def make(tenant, role):
        user = get_user_model().objects.create_user(
            f"{role}-{tenant.slug}-{uuid.uuid4().hex[:6]}", password="pw-123456789", is_staff=True
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def game_floor(tenant, outsider, agent, team):
    rule = game.point_rule_create(
        tenant=tenant,
        values={"name": "Per contact", "kpi": "contacts_handled", "kind": "per_unit", "points": 5},
    )
    badge = game.badge_create(
        tenant=tenant, code="ace", values={"name": "Ace agent", "criteria": {"kind": "points",
                                                                             "points": 1}}
    )  # fmt: skip
    ingest(tenant, [call("a1", local("2026-11-10", 9))])
    reward = wallet.reward_create(tenant=tenant, values={"name": "Secret lunch", "cost": 1})
    wallet.wallet_grant(tenant=tenant, agent=agent, amount=10, reason="seed", actor="t")
    redemption, _ = wallet.redemption_request(
        tenant=tenant, agent=agent, reward_id=reward.pk, actor="t"
    )
    team_upsert(tenant=outsider, external_id="x1", name="Their team", parent_external_id=None)
    agent_upsert(tenant=outsider, external_id="x-1", display_name="Zed", team_external_id="x1")
    return {"rule": rule, "badge": badge, "reward": reward, "redemption": redemption}


def pages(floor, agent, team):
    entry = AuditEntry.objects.filter(object_type="reward").first()
    assert entry is not None
    return [
        "/admin/accounts/agent/",
        f"/admin/accounts/agent/{agent.pk}/change/",
        "/admin/accounts/team/",
        f"/admin/accounts/team/{team.pk}/change/",
        "/admin/game/pointrule/",
        f"/admin/game/pointrule/{floor['rule'].pk}/change/",
        "/admin/game/badge/",
        f"/admin/game/badge/{floor['badge'].pk}/change/",
        "/admin/game/pointaward/",
        "/admin/game/badgeaward/",
        "/admin/wallet/reward/",
        f"/admin/wallet/reward/{floor['reward'].pk}/change/",
        "/admin/wallet/redemption/",
        f"/admin/wallet/redemption/{floor['redemption'].pk}/change/",
        "/admin/wallet/ledgerentry/",
        "/admin/audit/auditentry/",
        f"/admin/audit/auditentry/{entry.pk}/change/",
        "/admin/accounts/agent/export/",
    ]


@pytest.mark.parametrize("role", ["owner", "manager", "viewer"])
def test_every_role_of_the_tenant_sees_its_pages(client, staff, tenant, agent, team, game_floor,
                                                 role):  # fmt: skip
    client.force_login(staff(tenant, role))
    for url in pages(game_floor, agent, team):
        response = client.get(url)
        assert response.status_code == 200, url
    html = client.get(f"/admin/accounts/agent/{agent.pk}/change/").content.decode()
    assert ("Grant coins" in html) is (role != "viewer")
    export = client.get("/admin/accounts/agent/export/", {"tenant": tenant.pk, "period": "all"})
    assert export.status_code == 200
    assert b"Ann Lee" in b"".join(export.streaming_content)


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_owners_and_managers_grant_adjust_and_reject(client, staff, tenant, agent, game_floor,
                                                     role):  # fmt: skip
    client.force_login(staff(tenant, role))
    grant = {"key": str(uuid.uuid4()), "amount": "3", "reason": "kudos"}
    assert client.post(f"/admin/accounts/agent/{agent.pk}/grant/", grant).status_code == 302
    adjust = {"points": "2", "reason": "fix"}
    assert client.post(f"/admin/accounts/agent/{agent.pk}/adjust/", adjust).status_code == 302
    redemption = game_floor["redemption"]
    assert (
        client.post(f"/admin/wallet/redemption/{redemption.pk}/reject/", {"note": "no"}).status_code
        == 302
    )
    assert Redemption.objects.get(pk=redemption.pk).status == "rejected"
    assert LedgerEntry.objects.filter(kind="grant", amount=3).exists()


def test_a_viewer_changes_nothing(client, staff, tenant, agent, game_floor):
    client.force_login(staff(tenant, "viewer"))
    redemption, rule = game_floor["redemption"], game_floor["rule"]
    refused = [
        client.post(f"/admin/accounts/agent/{agent.pk}/grant/",
                    {"key": str(uuid.uuid4()), "amount": "3", "reason": "x"}),
        client.post(f"/admin/accounts/agent/{agent.pk}/adjust/", {"points": "2", "reason": "x"}),
        client.post(f"/admin/wallet/redemption/{redemption.pk}/reject/", {"note": "x"}),
        client.post(f"/admin/game/pointrule/{rule.pk}/change/", {"name": "x"}),
        client.post(f"/admin/game/pointrule/{rule.pk}/delete/", {"post": "yes"}),
        client.get("/admin/game/pointrule/add/"),
        client.get("/admin/audit/auditentry/add/"),
    ]  # fmt: skip
    assert [r.status_code for r in refused] == [403] * len(refused)
    client.post(
        "/admin/wallet/redemption/",
        {"action": "approve", "_selected_action": [redemption.pk]},
    )
    assert Redemption.objects.get(pk=redemption.pk).status == "requested"
    assert not LedgerEntry.objects.filter(kind="grant", amount=3).exists()


def test_another_tenants_manager_gets_not_a_byte_of_this_one(
    client, staff, tenant, outsider, agent, team, game_floor
):
    client.force_login(staff(outsider, "manager"))
    for url in pages(game_floor, agent, team):
        response = client.get(url, follow=False)
        body = (
            b"".join(response.streaming_content)
            if getattr(response, "streaming", False)
            else response.content
        ).decode()
        # a list shows their rows only; a page of ours "does not exist" (a redirect)
        assert response.status_code in (200, 302, 404), url
        if "/change/" in url:
            assert response.status_code == 302, url
        for marker in OURS:
            assert marker not in body, (url, marker)
    redemption = game_floor["redemption"]
    for response in (
        client.post(f"/admin/accounts/agent/{agent.pk}/grant/",
                    {"key": str(uuid.uuid4()), "amount": "3", "reason": "x"}),
        client.post(f"/admin/accounts/agent/{agent.pk}/adjust/", {"points": "2", "reason": "x"}),
        client.post(f"/admin/wallet/redemption/{redemption.pk}/reject/", {"note": "x"}),
        client.get(f"/admin/wallet/redemption/{redemption.pk}/reject/"),
        client.get("/admin/accounts/agent/export/", {"tenant": tenant.pk, "period": "all"}),
        client.get("/admin/accounts/agent/export/", {"team": team.pk}),
    ):  # fmt: skip
        assert response.status_code == 404
        for marker in OURS:
            assert marker.encode() not in response.content
    for action in ("approve", "reject", "fulfil"):
        page = client.post(
            "/admin/wallet/redemption/",
            {"action": action, "_selected_action": [redemption.pk], "apply": "yes"},
            follow=True,
        )
        for marker in OURS:
            assert marker not in page.content.decode(), (action, marker)
    assert Redemption.objects.get(pk=redemption.pk).status == "requested"
    assert not LedgerEntry.objects.filter(kind="grant", amount=3).exists()
    # and their own export holds their agent only
    export = client.get("/admin/accounts/agent/export/", {"tenant": outsider.pk, "period": "all"})
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert "Zed" in text
    assert "Ann Lee" not in text
