"""Wallet fixtures: a funded agent, rewards, and clients for widget tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.api.auth import widget_token_mint
from accounts.models import Agent, Tenant
from accounts.services import agent_upsert
from gamify.wallet import services
from gamify.wallet.models import LedgerEntry, Reward


@pytest.fixture
def fund() -> Callable[..., LedgerEntry]:
    """Grant coins to an agent through the one credit service."""
    counter = iter(range(1_000_000))

    def grant(agent: Agent, amount: int) -> LedgerEntry:
        return services.wallet_credit(
            tenant=agent.tenant,
            agent_id=agent.pk,
            amount=amount,
            kind="grant",
            reference="test funds",
            idempotency_key=f"test-fund:{agent.pk}:{next(counter)}",
        )

    return grant


@pytest.fixture
def make_reward() -> Callable[..., Reward]:
    def make(tenant: Tenant, **values: Any) -> Reward:
        values = {"name": "Cinema ticket", "cost": 30, "stock": None, **values}
        return services.reward_create(tenant=tenant, values=values)

    return make


@pytest.fixture
def widget_client() -> Callable[[Agent], APIClient]:
    def make(agent: Agent) -> APIClient:
        token, _ = widget_token_mint(agent=agent, ttl_seconds=600)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture
def other_agent(tenant: Tenant, team: Any) -> Agent:
    agent, _ = agent_upsert(
        tenant=tenant, external_id="a2", display_name="Bo Chen", team_external_id="t1"
    )
    return agent
