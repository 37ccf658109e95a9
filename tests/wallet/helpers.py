"""Assertions about coins shared by the wallet tests."""

from __future__ import annotations

from accounts.models import Agent
from gamify.wallet.models import LedgerEntry, Wallet


def ledger_sum(agent: Agent) -> int:
    return sum(LedgerEntry.objects.filter(agent=agent).values_list("amount", flat=True))


def balance(agent: Agent) -> int:
    wallet = Wallet.objects.filter(agent=agent).first()
    return wallet.balance if wallet else 0
