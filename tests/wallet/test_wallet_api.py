"""GET /agents/{id}/wallet and POST /agents/{id}/wallet/grants."""

from __future__ import annotations

import pytest

from gamify.activity.models import Activity
from gamify.wallet.models import LedgerEntry
from tests.helpers import problem
from tests.wallet.helpers import balance, ledger_sum

pytestmark = pytest.mark.django_db

WALLET = "/api/v1/agents/a1/wallet"
GRANTS = "/api/v1/agents/a1/wallet/grants"


def grant(client, body, key=None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(GRANTS, body, format="json", **extra)


def test_an_agent_without_coins_has_an_empty_wallet(api, agent):
    body = api.get(WALLET).json()
    assert body == {"agent": "a1", "balance": 0, "transactions": [], "next": None}


def test_grant_credits_and_is_listed_newest_first(api, agent):
    created = grant(api, {"amount": 40, "reason": "Great save on a hard call"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["agent"] == "a1"
    assert (body["amount"], body["balance_after"], body["kind"]) == (40, 40, "grant")
    assert body["reference"] == "Great save on a hard call"
    assert body["actor"].startswith("key:")
    grant(api, {"amount": 2, "reason": "Thanks"})
    wallet = api.get(WALLET).json()
    assert wallet["balance"] == 42
    assert [t["amount"] for t in wallet["transactions"]] == [2, 40]
    assert Activity.objects.filter(type="wallet.granted", agent=agent).count() == 2


def test_transactions_are_cursor_paginated(api, agent, fund):
    for n in range(5):
        fund(agent, n + 1)
    first = api.get(WALLET, {"limit": 2}).json()
    assert [t["amount"] for t in first["transactions"]] == [5, 4]
    assert first["balance"] == 15
    second = api.get(first["next"]).json()
    assert [t["amount"] for t in second["transactions"]] == [3, 2]
    third = api.get(second["next"]).json()
    assert [t["amount"] for t in third["transactions"]] == [1]
    assert third["next"] is None
    problem(api.get(WALLET, {"limit": 0}), 400)
    assert "cursor" in problem(api.get(WALLET, {"cursor": "garbage"}), 400)["errors"]


def test_a_replayed_grant_moves_coins_once(api, agent):
    first = grant(api, {"amount": 10, "reason": "kudos"}, key="g-1")
    again = grant(api, {"amount": 10, "reason": "kudos"}, key="g-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert balance(agent) == ledger_sum(agent) == 10
    conflict = problem(grant(api, {"amount": 11, "reason": "kudos"}, key="g-1"), 409)
    assert conflict["type"].endswith("idempotency-key-reused")
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0, "reason": "x"}, "amount"),
        ({"amount": -5, "reason": "x"}, "amount"),
        ({"amount": 1.5, "reason": "x"}, "amount"),
        ({"amount": 10**30, "reason": "x"}, "amount"),
        ({"amount": "10", "reason": "x"}, "amount"),
        ({"amount": True, "reason": "x"}, "amount"),
        ({"amount": None, "reason": "x"}, "amount"),
        ({"reason": "x"}, "amount"),
        ({"amount": 5}, "reason"),
        ({"amount": 5, "reason": "   "}, "reason"),
        ({"amount": 5, "reason": 7}, "reason"),
        ({"amount": 5, "reason": "x", "coins": 5}, "coins"),
    ],
)
def test_bad_grants_are_400s_naming_the_field(api, agent, body, field):
    body = problem(grant(api, body), 400)
    assert field in body["errors"], body
    assert not LedgerEntry.objects.exists()


def test_bad_bodies_are_400s(api, agent):
    problem(api.post(GRANTS, [1, 2], format="json"), 400)
    problem(api.post(GRANTS, b"{not json", content_type="application/json"), 400)


def test_unknown_or_foreign_agent_is_404(api, agent, outsider_api):
    problem(api.get("/api/v1/agents/nobody/wallet"), 404)
    problem(grant(outsider_api, {"amount": 5, "reason": "x"}), 404)
    problem(outsider_api.get(WALLET), 404)


def test_scopes(make_client, tenant, agent):
    reader = make_client(tenant, ("read",))
    assert reader.get(WALLET).status_code == 200
    problem(grant(reader, {"amount": 5, "reason": "x"}), 403)
    problem(make_client(tenant, ("ingest",)).get(WALLET), 403)


def test_widget_token_reads_its_own_wallet_only(widget_client, agent, other_agent, fund):
    fund(agent, 12)
    mine = widget_client(agent)
    assert mine.get(WALLET).json()["balance"] == 12
    problem(mine.get("/api/v1/agents/a2/wallet"), 403)
    problem(grant(mine, {"amount": 5, "reason": "self-service"}), 403)
    assert balance(agent) == 12


def test_the_profile_shows_the_balance(api, agent, fund):
    fund(agent, 33)
    assert api.get("/api/v1/agents/a1/profile").json()["wallet"] == {"balance": 33}
