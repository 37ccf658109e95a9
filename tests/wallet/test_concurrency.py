"""Concurrent redemptions never overdraw a wallet nor sell a unit twice: on PostgreSQL (row locks,
conditional updates) and on the embedded default (SQLite) served by a real server."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import agent_upsert, api_key_create
from gamify.wallet.models import LedgerEntry, Redemption
from tests.embedded import embedded_server
from tests.wallet.helpers import balance, ledger_sum

THREADS = 20


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same instant, one thread each; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = calls[index]()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def _post(client: APIClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/api/v1/redemptions", body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )
    return response.status_code, response.json()


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_never_overdraw(tenant, agent, fund, make_reward):
    fund(agent, 100)
    reward = make_reward(tenant, cost=30, stock=None)
    _, raw = api_key_create(tenant=tenant, scopes=("manage",), name="race")
    clients = [_client(raw) for _ in range(THREADS)]
    body = {"agent": "a1", "reward": reward.pk}
    results = race([lambda c=c: _post(c, body) for c in clients])
    statuses = [status for status, _ in results]
    assert statuses.count(201) == 3, results
    assert statuses.count(409) == 17, results
    assert all(b["type"].endswith("insufficient-funds") for s, b in results if s == 409)
    assert balance(agent) == ledger_sum(agent) == 10
    assert Redemption.objects.count() == 3
    assert LedgerEntry.objects.filter(kind="redemption").count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_never_sell_the_last_unit_twice(tenant, fund, make_reward):
    agents = [
        agent_upsert(
            tenant=tenant, external_id=f"r{n}", display_name=f"R{n}", team_external_id=None
        )[0]
        for n in range(THREADS)
    ]
    for agent in agents:
        fund(agent, 100)
    reward = make_reward(tenant, name="Parking spot", cost=30, stock=1)
    _, raw = api_key_create(tenant=tenant, scopes=("manage",), name="race")
    clients = [_client(raw) for _ in range(THREADS)]
    results = race(
        [
            lambda c=c, a=a: _post(c, {"agent": a.external_id, "reward": reward.pk})
            for c, a in zip(clients, agents, strict=True)
        ]
    )
    statuses = [status for status, _ in results]
    assert statuses.count(201) == 1, results
    assert statuses.count(409) == THREADS - 1, results
    assert all(b["type"].endswith("out-of-stock") for s, b in results if s == 409)
    reward.refresh_from_db()
    assert reward.stock == 0
    assert sorted(balance(a) for a in agents) == [70] + [100] * (THREADS - 1)
    assert all(balance(a) == ledger_sum(a) for a in agents)


@pytest.mark.django_db(transaction=True)
def test_concurrent_grants_and_rejections_keep_the_ledger_exact(tenant, agent, fund, make_reward):
    """Refunds, grants and debits of one wallet racing each other: no update is lost."""
    from gamify.wallet import services

    fund(agent, 300)
    reward = make_reward(tenant, cost=10, stock=None)
    redemptions = [
        services.redemption_request(tenant=tenant, agent=agent, reward_id=reward.pk, actor="t")[0]
        for _ in range(10)
    ]
    assert balance(agent) == 200
    calls: list[Callable[[], Any]] = [
        lambda r=r: services.redemption_reject(tenant=tenant, redemption_id=r.pk, actor="t")
        for r in redemptions
    ] + [
        lambda n=n: services.wallet_credit(
            tenant=tenant,
            agent_id=agent.pk,
            amount=1,
            kind="grant",
            reference="",
            idempotency_key=f"race:{n % 5}",  # each key sent twice at once
        )
        for n in range(10)
    ]
    results = race(calls)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert balance(agent) == ledger_sum(agent) == 300 + 5


# --- the embedded default (SQLite) as a real server -----------------------------------------
def _http(server: Any, method: str, path: str, body: Any = None, **headers: str) -> Any:
    return requests.request(
        method,
        f"{server.base_url}/api/v1{path}",
        json=body,
        headers={"Authorization": f"Bearer {server.api_key}", **headers},
        timeout=60,
    )


def _race_http(server: Any, bodies: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = _http(
            server, "POST", "/redemptions", body, **{"Idempotency-Key": uuid.uuid4().hex}
        )
        return response.status_code, response.json()

    calls: list[Any] = [lambda b=b: post(b) for b in bodies]
    return race(calls)


@pytest.mark.slow
def test_concurrent_redemptions_on_the_embedded_default(tmp_path):
    with embedded_server(tmp_path) as server:
        assert _http(server, "PUT", "/agents/a1", {"display_name": "Ann"}).status_code == 201
        reward = _http(server, "POST", "/rewards", {"name": "Cinema", "cost": 30}).json()
        granted = _http(server, "POST", "/agents/a1/wallet/grants", {"amount": 100, "reason": "x"})
        assert granted.status_code == 201

        results = _race_http(server, [{"agent": "a1", "reward": reward["id"]}] * THREADS)
        statuses = [status for status, _ in results]
        assert statuses.count(201) == 3, results
        assert statuses.count(409) == 17, results
        assert all(b["type"].endswith("insufficient-funds") for s, b in results if s == 409)
        wallet = _http(server, "GET", "/agents/a1/wallet?limit=500").json()
        assert wallet["balance"] == 10
        assert sum(t["amount"] for t in wallet["transactions"]) == 10

        # the last unit of stock, across agents
        for n in range(THREADS):
            assert _http(server, "PUT", f"/agents/r{n}", {"display_name": f"R{n}"}).ok
            assert _http(
                server, "POST", f"/agents/r{n}/wallet/grants", {"amount": 100, "reason": "x"}
            ).ok
        spot = _http(server, "POST", "/rewards", {"name": "Spot", "cost": 30, "stock": 1}).json()
        results = _race_http(
            server, [{"agent": f"r{n}", "reward": spot["id"]} for n in range(THREADS)]
        )
        statuses = [status for status, _ in results]
        assert statuses.count(201) == 1, results
        assert statuses.count(409) == THREADS - 1, results
        assert all(b["type"].endswith("out-of-stock") for s, b in results if s == 409)
        assert _http(server, "GET", f"/rewards/{spot['id']}").json()["stock"] == 0
        balances = []
        for n in range(THREADS):
            wallet = _http(server, "GET", f"/agents/r{n}/wallet").json()
            assert wallet["balance"] == sum(t["amount"] for t in wallet["transactions"])
            balances.append(wallet["balance"])
        assert sorted(balances) == [70] + [100] * (THREADS - 1)
