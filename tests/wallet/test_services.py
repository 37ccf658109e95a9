"""The ledger services: one credit, one debit, idempotent by key, never below zero, append-only;
and the points-to-coins conversion."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from core.errors import InvalidInputError
from gamify.wallet import selectors, services
from gamify.wallet.models import LedgerAppendOnly, LedgerEntry, Wallet
from tests.wallet.helpers import balance, ledger_sum

pytestmark = pytest.mark.django_db


def credit(agent, amount, key, kind="grant"):
    return services.wallet_credit(
        tenant=agent.tenant,
        agent_id=agent.pk,
        amount=amount,
        kind=kind,
        reference="r",
        idempotency_key=key,
    )


def debit(agent, amount, key, kind="redemption"):
    return services.wallet_debit(
        tenant=agent.tenant,
        agent_id=agent.pk,
        amount=amount,
        kind=kind,
        reference="r",
        idempotency_key=key,
    )


def test_credit_and_debit_keep_balance_equal_to_the_ledger(agent):
    first = credit(agent, 100, "k1")
    assert (first.amount, first.balance_after, first.actor) == (100, 100, "system")
    spent = debit(agent, 30, "k2")
    assert (spent.amount, spent.balance_after) == (-30, 70)
    assert balance(agent) == ledger_sum(agent) == 70
    assert selectors.wallet_balance(tenant=agent.tenant, agent_id=agent.pk) == 70


def test_a_repeated_key_returns_the_first_entry_and_moves_nothing(agent):
    first = credit(agent, 100, "same")
    again = credit(agent, 100, "same")
    assert again.pk == first.pk
    late = credit(agent, 999, "same")  # first one wins, e.g. late points after a conversion
    assert late.pk == first.pk
    assert debit(agent, 10, "d").pk == debit(agent, 10, "d").pk
    assert balance(agent) == ledger_sum(agent) == 90
    assert LedgerEntry.objects.count() == 2


def test_a_key_of_another_agent_or_kind_is_a_conflict(agent, other_agent):
    credit(agent, 100, "shared")
    with pytest.raises(services.LedgerKeyConflict):
        credit(other_agent, 100, "shared")
    with pytest.raises(services.LedgerKeyConflict):
        credit(agent, 100, "shared", kind="refund")
    assert balance(other_agent) == 0


def test_debit_never_overdraws(agent):
    credit(agent, 20, "k1")
    with pytest.raises(services.InsufficientFunds) as caught:
        debit(agent, 21, "k2")
    assert caught.value.status_code == 409
    assert caught.value.slug == "insufficient-funds"
    assert caught.value.extra == {"balance": 20, "needed": 21}
    assert balance(agent) == ledger_sum(agent) == 20
    with pytest.raises(services.InsufficientFunds):
        debit(agent, 1_000, "k3")
    assert not LedgerEntry.objects.filter(idempotency_key="k3").exists()


def test_a_failed_debit_inside_a_callers_transaction_leaves_it_usable(agent):
    credit(agent, 5, "k1")
    with transaction.atomic():
        with pytest.raises(services.InsufficientFunds):
            debit(agent, 6, "k2")
        credit(agent, 1, "k3")
    assert balance(agent) == ledger_sum(agent) == 6


@pytest.mark.parametrize("amount", [0, -5, 1.5, "10", True, None, 10**30])
def test_amounts_must_be_positive_whole_numbers(agent, amount):
    with pytest.raises(InvalidInputError) as caught:
        credit(agent, amount, "k")
    assert "amount" in caught.value.errors
    with pytest.raises(InvalidInputError):
        debit(agent, amount, "k")
    assert not LedgerEntry.objects.exists()


def test_kinds_are_checked(agent):
    with pytest.raises(InvalidInputError):
        credit(agent, 5, "k", kind="redemption")
    with pytest.raises(InvalidInputError):
        debit(agent, 5, "k", kind="grant")
    with pytest.raises(InvalidInputError):
        credit(agent, 5, "k", kind="bogus")


def test_an_agent_of_another_tenant_is_not_found(agent, outsider):
    with pytest.raises(services.NotFoundError):
        services.wallet_credit(
            tenant=outsider,
            agent_id=agent.pk,
            amount=5,
            kind="grant",
            reference="",
            idempotency_key="x",
        )
    assert not Wallet.objects.exists()


def test_balances_selector(agent, other_agent):
    credit(agent, 7, "k")
    assert selectors.wallet_balances(tenant=agent.tenant, agent_ids=[agent.pk, other_agent.pk]) == {
        agent.pk: 7,
        other_agent.pk: 0,
    }
    assert selectors.wallet_balance(tenant=agent.tenant, agent_id=other_agent.pk) == 0


def test_the_ledger_is_append_only(agent):
    entry = credit(agent, 10, "k")
    entry.amount = 1_000
    with pytest.raises(LedgerAppendOnly):
        entry.save()
    with pytest.raises(LedgerAppendOnly):
        entry.delete()
    with pytest.raises(LedgerAppendOnly):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=1_000)
    with pytest.raises(LedgerAppendOnly):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    # and the database refuses an UPDATE that bypasses the ORM
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE wallet_ledgerentry SET amount = 1000 WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 10


def test_the_database_refuses_a_negative_balance(agent):
    credit(agent, 10, "k")
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(agent=agent).update(balance=-1)


def test_the_database_refuses_a_duplicate_key(agent):
    entry = credit(agent, 10, "k")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            tenant=entry.tenant,
            agent=agent,
            amount=10,
            balance_after=20,
            kind="grant",
            idempotency_key="k",
        )


# --- conversion -----------------------------------------------------------------------------
def test_points_convert_once_per_agent_and_period(agent, other_agent):
    tenant = agent.tenant
    assert (
        services.points_convert(tenant=tenant, agent_id=agent.pk, period_key="d1", points=99)
        is None
    )
    services.conversion_rule_set(tenant=tenant, points_per_coin=10)
    entry = services.points_convert(tenant=tenant, agent_id=agent.pk, period_key="d1", points=95)
    assert entry is not None
    assert (entry.amount, entry.kind, entry.idempotency_key) == (
        9,
        "conversion",
        f"conversion:d1:{agent.pk}",
    )
    again = services.points_convert(tenant=tenant, agent_id=agent.pk, period_key="d1", points=300)
    assert again is not None
    assert again.pk == entry.pk
    services.points_convert(tenant=tenant, agent_id=agent.pk, period_key="d2", points=10)
    services.points_convert(tenant=tenant, agent_id=other_agent.pk, period_key="d1", points=20)
    assert balance(agent) == ledger_sum(agent) == 10
    assert balance(other_agent) == 2


def test_points_convert_gives_nothing_under_one_coin_or_when_inactive(agent):
    tenant = agent.tenant
    services.conversion_rule_set(tenant=tenant, points_per_coin=10)
    assert (
        services.points_convert(tenant=tenant, agent_id=agent.pk, period_key="d", points=9) is None
    )
    assert (
        services.points_convert(tenant=tenant, agent_id=agent.pk, period_key="d", points=0) is None
    )
    services.conversion_rule_set(tenant=tenant, points_per_coin=10, active=False)
    assert (
        services.points_convert(tenant=tenant, agent_id=agent.pk, period_key="e", points=500)
        is None
    )
    assert not LedgerEntry.objects.exists()


def test_conversion_rate_must_be_positive(tenant):
    for bad in (0, -1, 2.5):
        with pytest.raises(InvalidInputError):
            services.conversion_rule_set(tenant=tenant, points_per_coin=bad)


def test_prizes_credit_through_the_game_seam(agent):
    from gamify.wallet.services import wallet_credit as coins_credit

    coins_credit(
        tenant=agent.tenant,
        agent_id=agent.pk,
        amount=50,
        kind="badge_prize",
        reference="badge:x",
        idempotency_key="badge-award:1",
    )
    coins_credit(
        tenant=agent.tenant,
        agent_id=agent.pk,
        amount=50,
        kind="badge_prize",
        reference="badge:x",
        idempotency_key="badge-award:1",
    )
    assert balance(agent) == 50
