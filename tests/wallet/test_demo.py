"""The demo store seeds a catalogue, balances and redemptions in every state, and re-runs safely."""

from __future__ import annotations

import pytest

from accounts.services import agent_upsert
from gamify.wallet.demo import CATALOGUE, seed_wallet
from gamify.wallet.models import ConversionRule, LedgerEntry, Redemption, Reward, Wallet
from tests.wallet.helpers import balance, ledger_sum

pytestmark = pytest.mark.django_db


def snapshot(tenant):
    return (
        list(LedgerEntry.objects.for_tenant(tenant).order_by("id").values_list("id", "amount")),
        list(Redemption.objects.for_tenant(tenant).order_by("id").values_list("id", "status")),
        list(Reward.objects.for_tenant(tenant).order_by("id").values_list("name", "stock")),
    )


def test_seed_wallet_is_complete_and_idempotent(tenant):
    agents = [
        agent_upsert(
            tenant=tenant, external_id=f"agent-{n:03d}", display_name=f"A{n}", team_external_id=None
        )[0]
        for n in range(1, 25)
    ]
    seed_wallet(tenant)
    names = set(Reward.objects.for_tenant(tenant).values_list("name", flat=True))
    assert {"Cinema ticket", "Extra 15-minute break", "Team lunch"} <= names
    assert len(names) == len(CATALOGUE)
    assert any(name.startswith("Reserved parking spot") for name in names)
    statuses = set(Redemption.objects.for_tenant(tenant).values_list("status", flat=True))
    assert statuses == {"requested", "approved", "fulfilled", "rejected"}
    assert Wallet.objects.for_tenant(tenant).filter(balance__gt=0).count() >= 10
    assert all(balance(a) == ledger_sum(a) for a in agents)
    assert ConversionRule.objects.for_tenant(tenant).get().points_per_coin == 10

    before = snapshot(tenant)
    seed_wallet(tenant)
    assert snapshot(tenant) == before


def test_seed_wallet_without_agents_seeds_the_catalogue(outsider):
    seed_wallet(outsider)
    assert Reward.objects.for_tenant(outsider).count() == len(CATALOGUE)
    assert not LedgerEntry.objects.exists()
