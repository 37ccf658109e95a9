"""Property: whatever sequence of grants, redemptions, approvals, rejections, fulfilments and
retries (replayed Idempotency-Keys, reused keys) arrives over HTTP, every balance equals the sum
of its ledger and is never negative, stock is never negative and matches what was redeemed, and a
replayed key never moves coins twice."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.services import agent_upsert, api_key_create, tenant_create
from gamify.wallet import services
from gamify.wallet.models import LedgerEntry, Redemption, Reward, Wallet

pytestmark = pytest.mark.django_db

AGENTS = ("p1", "p2")
REWARDS: list[dict[str, Any]] = [
    {"name": "Ticket", "cost": 10, "stock": 3},
    {"name": "Break", "cost": 25, "stock": None},
    {"name": "Spot", "cost": 5, "stock": 1, "per_agent_monthly_limit": 2},
]

keys = st.booleans()  # send an Idempotency-Key (a fresh one; replays are steps of their own)
steps = st.one_of(
    st.tuples(st.just("grant"), st.sampled_from(AGENTS), st.integers(1, 60), keys),
    st.tuples(
        st.just("redeem"),
        st.sampled_from(AGENTS),
        st.integers(0, len(REWARDS) - 1),
        st.integers(1, 3),
        keys,
    ),
    st.tuples(
        st.sampled_from(["approve", "reject", "fulfill", "fulfil"]), st.integers(0, 30), keys
    ),
    st.tuples(st.just("replay"), st.integers(0, 30)),
    st.tuples(st.just("reuse"), st.integers(0, 30)),
)


def snapshot(tenant: Any) -> tuple[Any, ...]:
    return (
        tuple(LedgerEntry.objects.for_tenant(tenant).order_by("id").values_list("id", flat=True)),
        tuple(Wallet.objects.for_tenant(tenant).order_by("id").values_list("balance", flat=True)),
        tuple(Reward.objects.for_tenant(tenant).order_by("id").values_list("stock", flat=True)),
        tuple(
            Redemption.objects.for_tenant(tenant).order_by("id").values_list("status", flat=True)
        ),
    )


def check_invariants(tenant: Any, agents: dict[str, Any], rewards: list[Reward]) -> None:
    for agent in agents.values():
        wallet = Wallet.objects.for_tenant(tenant).filter(agent=agent).first()
        balance = wallet.balance if wallet else 0
        entries = LedgerEntry.objects.for_tenant(tenant).filter(agent=agent)
        assert balance == (entries.aggregate(s=Sum("amount"))["s"] or 0)
        assert balance >= 0
        # The ledger tells the whole story: grants in, live redemptions out.
        granted = entries.filter(kind="grant").aggregate(s=Sum("amount"))["s"] or 0
        spent = (
            Redemption.objects.for_tenant(tenant)
            .filter(agent=agent)
            .exclude(status="rejected")
            .aggregate(s=Sum("total_cost"))["s"]
            or 0
        )
        assert balance == granted - spent
    for reward, spec in zip(rewards, REWARDS, strict=True):
        reward.refresh_from_db()
        if spec["stock"] is None:
            assert reward.stock is None
            continue
        assert reward.stock is not None
        assert reward.stock >= 0
        taken = (
            Redemption.objects.filter(reward=reward)
            .exclude(status="rejected")
            .aggregate(s=Sum("quantity"))["s"]
            or 0
        )
        assert reward.stock == spec["stock"] - taken


def run(scenario: list[tuple[Any, ...]]) -> None:
    tenant = tenant_create(name="Store", timezone_name="Asia/Tehran", slug="store")
    agents = {
        external_id: agent_upsert(
            tenant=tenant, external_id=external_id, display_name=external_id, team_external_id=None
        )[0]
        for external_id in AGENTS
    }
    rewards = [services.reward_create(tenant=tenant, values=spec) for spec in REWARDS]
    _, raw = api_key_create(tenant=tenant, scopes=("manage", "read"), name="p")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    sent: list[dict[str, Any]] = []  # requests sent with a key, and their answers
    redemption_ids: list[int] = []

    def send(path: str, body: dict[str, Any], with_key: bool) -> Any:
        key = f"key-{len(sent)}" if with_key else None
        headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        response = client.post(path, body, format="json", **headers)
        assert response.status_code < 500, response.content
        if key:
            sent.append(
                {"path": path, "body": body, "key": key, "status": response.status_code,
                 "json": response.json()}
            )  # fmt: skip
        return response

    for step in scenario:
        kind = step[0]
        if kind == "grant":
            _, agent, amount, key = step
            response = send(
                f"/api/v1/agents/{agent}/wallet/grants", {"amount": amount, "reason": "kudos"}, key
            )
            assert response.status_code == 201
        elif kind == "redeem":
            _, agent, reward_index, quantity, key = step
            body = {"agent": agent, "reward": rewards[reward_index].pk, "quantity": quantity}
            response = send("/api/v1/redemptions", body, key)
            assert response.status_code in (201, 409), response.content
            if response.status_code == 201:
                redemption_ids.append(response.json()["id"])
            else:
                assert response.json()["type"].rsplit("/", 1)[-1] in {
                    "insufficient-funds",
                    "out-of-stock",
                    "limit-reached",
                }
        elif kind in ("approve", "reject", "fulfill", "fulfil"):
            _, pick, key = step
            if not redemption_ids:
                continue
            redemption_id = redemption_ids[pick % len(redemption_ids)]
            response = send(f"/api/v1/redemptions/{redemption_id}/{kind}", {}, key)
            assert response.status_code in (200, 409), response.content
        elif kind in ("replay", "reuse"):
            if not sent:
                continue
            first = sent[step[1] % len(sent)]
            stored = first["status"] != 409  # 409s are not stored: a retry runs for real
            before = snapshot(tenant)
            headers = {"HTTP_IDEMPOTENCY_KEY": first["key"]}
            if kind == "replay":
                response = client.post(first["path"], first["body"], format="json", **headers)
                if stored:
                    assert response.status_code == first["status"]
                    assert response.json() == first["json"]
                    assert snapshot(tenant) == before  # nothing moved twice
            else:  # the same key with another body
                other = {**first["body"], "extra": "changed"}
                response = client.post(first["path"], other, format="json", **headers)
                if stored:
                    assert response.status_code == 409
                    assert response.json()["type"].endswith("idempotency-key-reused")
                    assert snapshot(tenant) == before
            assert response.status_code < 500, response.content
        check_invariants(tenant, agents, rewards)


def test_coins_and_stock_stay_consistent_under_any_sequence() -> None:
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(scenario=st.lists(steps, min_size=1, max_size=25))
    def check(scenario: list[tuple[Any, ...]]) -> None:
        with transaction.atomic():
            try:
                run(scenario)
            finally:
                transaction.set_rollback(True)

    check()
