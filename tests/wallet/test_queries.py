"""List endpoints answer in a constant number of queries, however many rows they show."""

from __future__ import annotations

import pytest

from accounts.services import agent_upsert
from gamify.wallet import services

pytestmark = pytest.mark.django_db


def queries_for(api, count_queries, url):
    api.get(url)  # warm up: the API key's last_used_at is written once a minute
    return count_queries(lambda: api.get(url, {"limit": 500}))


def test_wallet_transactions(api, agent, fund, count_queries):
    fund(agent, 1)
    few = queries_for(api, count_queries, "/api/v1/agents/a1/wallet")
    for _ in range(30):
        fund(agent, 1)
    assert queries_for(api, count_queries, "/api/v1/agents/a1/wallet") == few


def test_rewards(api, tenant, make_reward, count_queries):
    make_reward(tenant, name="first")
    few = queries_for(api, count_queries, "/api/v1/rewards")
    for n in range(30):
        make_reward(tenant, name=f"r{n}")
    assert queries_for(api, count_queries, "/api/v1/rewards") == few


def test_redemptions(api, tenant, agent, make_reward, fund, count_queries):
    reward = make_reward(tenant, cost=1)

    def redeem(agent):
        fund(agent, 1)
        services.redemption_request(tenant=tenant, agent=agent, reward_id=reward.pk, actor="t")

    redeem(agent)
    few = queries_for(api, count_queries, "/api/v1/redemptions")
    for n in range(30):
        other, _ = agent_upsert(
            tenant=tenant, external_id=f"q{n}", display_name=f"Q{n}", team_external_id=None
        )
        redeem(other)
        redeem(agent)
    assert queries_for(api, count_queries, "/api/v1/redemptions") == few
    assert queries_for(api, count_queries, "/api/v1/redemptions?status=requested") == few
