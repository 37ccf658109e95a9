"""Redemptions: debit at once, reserve stock, approve → fulfil or reject (refund)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from gamify.activity.models import Activity
from gamify.wallet.models import LedgerEntry, Redemption
from tests.helpers import problem
from tests.wallet.helpers import balance, ledger_sum

pytestmark = pytest.mark.django_db

REDEMPTIONS = "/api/v1/redemptions"


def redeem(client, reward, agent="a1", key=None, **extra_body):
    body = {"agent": agent, "reward": reward if isinstance(reward, int) else reward.pk}
    body.update(extra_body)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(REDEMPTIONS, body, format="json", **headers)


def act(client, redemption_id, action, key=None, body=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        f"{REDEMPTIONS}/{redemption_id}/{action}", body or {}, format="json", **headers
    )


@pytest.fixture
def cinema(tenant, make_reward):
    return make_reward(tenant, name="Cinema ticket", cost=30, stock=5)


def test_redeem_debits_at_once_and_reserves_stock(api, agent, cinema, fund):
    fund(agent, 100)
    response = redeem(api, cinema, quantity=2)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "requested"
    assert (body["agent"], body["reward"], body["reward_name"]) == (
        "a1",
        cinema.pk,
        "Cinema ticket",
    )
    assert (body["quantity"], body["unit_cost"], body["total_cost"]) == (2, 30, 60)
    assert response["Location"] == f"{REDEMPTIONS}/{body['id']}"
    assert balance(agent) == ledger_sum(agent) == 40
    cinema.refresh_from_db()
    assert cinema.stock == 3
    debit = LedgerEntry.objects.get(kind="redemption")
    assert debit.amount == -60
    assert Activity.objects.filter(type="redemption.requested", agent=agent).count() == 1
    assert api.get(f"{REDEMPTIONS}/{body['id']}").json() == body


def test_insufficient_funds_is_a_409_problem(api, agent, cinema, fund):
    fund(agent, 29)
    body = problem(redeem(api, cinema), 409)
    assert body["type"].endswith("insufficient-funds")
    assert (body["balance"], body["needed"]) == (29, 30)
    cinema.refresh_from_db()
    assert cinema.stock == 5
    assert not Redemption.objects.exists()
    assert balance(agent) == 29


def test_out_of_stock_is_a_409_problem(api, agent, tenant, make_reward, fund):
    fund(agent, 1000)
    last = make_reward(tenant, name="Parking spot", cost=10, stock=1)
    assert redeem(api, last).status_code == 201
    body = problem(redeem(api, last), 409)
    assert body["type"].endswith("out-of-stock")
    assert balance(agent) == ledger_sum(agent) == 990
    empty = make_reward(tenant, name="Headset", cost=10, stock=0)
    assert problem(redeem(api, empty), 409)["type"].endswith("out-of-stock")
    two = make_reward(tenant, name="Lunch", cost=10, stock=2)
    assert problem(redeem(api, two, quantity=3), 409)["type"].endswith("out-of-stock")


def test_monthly_limit_per_agent(api, agent, other_agent, tenant, make_reward, fund):
    fund(agent, 1000)
    fund(other_agent, 1000)
    now = timezone.now().astimezone(tenant.tz).replace(day=10, hour=12)
    with time_machine.travel(now, tick=False):
        limited = make_reward(tenant, name="Half day off", cost=10, per_agent_monthly_limit=2)
        first = redeem(api, limited).json()
        assert redeem(api, limited).status_code == 201
        body = problem(redeem(api, limited), 409)
        assert body["type"].endswith("limit-reached")
        assert (body["limit"], body["remaining"]) == (2, 0)
        assert redeem(api, limited, agent="a2", quantity=2).status_code == 201  # per agent
        assert act(api, first["id"], "reject").status_code == 200  # a rejection frees a unit
        assert redeem(api, limited).status_code == 201
        problem(redeem(api, limited), 409)
    with time_machine.travel(now + timedelta(days=31), tick=False):
        assert redeem(api, limited).status_code == 201  # a new month


def test_an_inactive_reward_cannot_be_redeemed(api, agent, tenant, make_reward, fund):
    fund(agent, 100)
    gone = make_reward(tenant, active=False)
    assert problem(redeem(api, gone), 409)["type"].endswith("reward-inactive")


def test_approve_then_fulfil(api, agent, cinema, fund):
    fund(agent, 100)
    created = redeem(api, cinema).json()
    approved = act(api, created["id"], "approve", body={"note": "Enjoy!"})
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    assert approved.json()["note"] == "Enjoy!"
    assert approved.json()["decided_at"] is not None
    fulfilled = act(api, created["id"], "fulfill").json()
    assert fulfilled["status"] == "fulfilled"
    assert fulfilled["fulfilled_at"] is not None
    assert balance(agent) == 70  # spent for good
    types = list(Activity.objects.filter(agent=agent).order_by("id").values_list("type", flat=True))
    assert types == ["redemption.requested", "redemption.approved", "redemption.fulfilled"]


def test_both_spellings_of_fulfil(api, agent, cinema, fund):
    fund(agent, 100)
    for spelling in ("fulfil", "fulfill"):
        created = redeem(api, cinema).json()
        act(api, created["id"], "approve")
        assert act(api, created["id"], spelling).json()["status"] == "fulfilled"


def test_reject_refunds_coins_and_stock(api, agent, cinema, fund):
    fund(agent, 100)
    created = redeem(api, cinema, quantity=3).json()
    assert balance(agent) == 10
    rejected = act(api, created["id"], "reject", body={"note": "Sold out at the venue"}).json()
    assert rejected["status"] == "rejected"
    assert balance(agent) == ledger_sum(agent) == 100
    refund = LedgerEntry.objects.get(kind="refund")
    assert refund.amount == 90
    cinema.refresh_from_db()
    assert cinema.stock == 5
    event = Activity.objects.get(type="redemption.rejected")
    assert event.data["coins"] == 90
    assert event.data["note"] == "Sold out at the venue"
    # repeating the rejection refunds nothing more
    assert act(api, created["id"], "reject").status_code == 200
    assert balance(agent) == 100
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_an_approved_redemption_may_still_be_rejected(api, agent, cinema, fund):
    fund(agent, 30)
    created = redeem(api, cinema).json()
    act(api, created["id"], "approve")
    assert act(api, created["id"], "reject").json()["status"] == "rejected"
    assert balance(agent) == 30


@pytest.mark.parametrize(
    ("path", "action"),
    [
        (["reject"], "fulfil"),
        (["reject"], "approve"),
        ([], "fulfil"),  # a requested one is approved first
        (["approve", "fulfil"], "reject"),
        (["approve", "fulfil"], "approve"),
    ],
)
def test_invalid_transitions_are_409(api, agent, cinema, fund, path, action):
    fund(agent, 100)
    created = redeem(api, cinema).json()
    for step in path:
        assert act(api, created["id"], step).status_code == 200
    before = (balance(agent), LedgerEntry.objects.count(), Activity.objects.count())
    body = problem(act(api, created["id"], action), 409)
    assert body["type"].endswith("invalid-transition")
    assert body["redemption_status"] == Redemption.objects.get().status
    assert (balance(agent), LedgerEntry.objects.count(), Activity.objects.count()) == before


def test_repeating_a_transition_changes_nothing(api, agent, cinema, fund):
    fund(agent, 100)
    created = redeem(api, cinema).json()
    act(api, created["id"], "approve")
    assert act(api, created["id"], "approve").json()["status"] == "approved"
    assert Activity.objects.filter(type="redemption.approved").count() == 1


def test_replayed_idempotency_keys(api, agent, cinema, fund):
    fund(agent, 100)
    first = redeem(api, cinema, key="r-1")
    again = redeem(api, cinema, key="r-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert Redemption.objects.count() == 1
    assert balance(agent) == 70
    assert problem(redeem(api, cinema, key="r-1", quantity=2), 409)["type"].endswith(
        "idempotency-key-reused"
    )
    redemption_id = first.json()["id"]
    assert act(api, redemption_id, "reject", key="x-1").status_code == 200
    replay = act(api, redemption_id, "reject", key="x-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert balance(agent) == ledger_sum(agent) == 100


def test_a_409_is_not_stored_so_a_retry_runs_for_real(api, agent, cinema, fund):
    assert problem(redeem(api, cinema, key="later"), 409)["type"].endswith("insufficient-funds")
    fund(agent, 30)
    assert redeem(api, cinema, key="later").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"agent": "a1", "reward": "REWARD", "quantity": 0}, "quantity"),
        ({"agent": "a1", "reward": "REWARD", "quantity": -1}, "quantity"),
        ({"agent": "a1", "reward": "REWARD", "quantity": 1.5}, "quantity"),
        ({"agent": "a1", "reward": "REWARD", "quantity": "1"}, "quantity"),
        ({"agent": "a1", "reward": "REWARD", "quantity": 10**30}, "quantity"),
        ({"agent": "a1", "reward": "abc"}, "reward"),
        ({"agent": "a1", "reward": 1.5}, "reward"),
        ({"agent": "a1", "reward": 10**30}, "reward"),
        ({"agent": "a1"}, "reward"),
        ({"reward": "REWARD"}, "agent"),
        ({"agent": 5, "reward": "REWARD"}, "agent"),
        ({"agent": "a1", "reward": "REWARD", "note": "x"}, "note"),
    ],
)
def test_bad_redemptions_are_400s_naming_the_field(api, agent, cinema, fund, body, field):
    fund(agent, 100)
    body = {k: cinema.pk if v == "REWARD" else v for k, v in body.items()}
    assert field in problem(api.post(REDEMPTIONS, body, format="json"), 400)["errors"]
    assert balance(agent) == 100


def test_unknown_reward_or_agent_is_404(api, agent, cinema, fund, outsider, make_reward):
    fund(agent, 100)
    assert "reward" in problem(redeem(api, 999_999), 404)["errors"]
    problem(redeem(api, cinema, agent="nobody"), 404)
    theirs = make_reward(outsider, cost=1)
    problem(redeem(api, theirs), 404)
    assert balance(agent) == 100


def test_lists_and_filters(api, agent, other_agent, cinema, fund):
    fund(agent, 100)
    fund(other_agent, 100)
    mine = redeem(api, cinema).json()
    theirs = redeem(api, cinema, agent="a2").json()
    act(api, theirs["id"], "approve")
    listed = api.get(REDEMPTIONS).json()
    assert [r["id"] for r in listed["results"]] == [theirs["id"], mine["id"]]
    assert [r["id"] for r in api.get(REDEMPTIONS, {"status": "approved"}).json()["results"]] == [
        theirs["id"]
    ]
    assert [r["id"] for r in api.get(REDEMPTIONS, {"agent": "a1"}).json()["results"]] == [
        mine["id"]
    ]
    assert api.get(REDEMPTIONS, {"agent": "a1", "status": "approved"}).json()["results"] == []
    assert "status" in problem(api.get(REDEMPTIONS, {"status": "lost"}), 400)["errors"]
    problem(api.get(REDEMPTIONS, {"agent": "nobody"}), 404)
    problem(api.get(f"{REDEMPTIONS}/999999"), 404)
    problem(api.get(f"{REDEMPTIONS}/{10**30}"), 404)


def test_another_tenant_sees_nothing(api, outsider_api, agent, cinema, fund):
    fund(agent, 100)
    created = redeem(api, cinema).json()
    assert outsider_api.get(REDEMPTIONS).json()["results"] == []
    problem(outsider_api.get(f"{REDEMPTIONS}/{created['id']}"), 404)
    problem(act(outsider_api, created["id"], "approve"), 404)
    problem(act(outsider_api, created["id"], "reject"), 404)
    assert balance(agent) == 70


def test_scopes(make_client, tenant, agent, cinema, fund):
    fund(agent, 100)
    reader = make_client(tenant, ("read",))
    problem(redeem(reader, cinema), 403)
    created = redeem(make_client(tenant, ("manage",)), cinema).json()
    problem(act(reader, created["id"], "approve"), 403)
    assert reader.get(REDEMPTIONS).status_code == 200


def test_an_agent_redeems_for_itself_with_its_widget_token(
    widget_client, agent, other_agent, cinema, fund, api
):
    fund(agent, 100)
    fund(other_agent, 100)
    widget = widget_client(agent)
    created = redeem(widget, cinema, key="w-1")
    assert created.status_code == 201, created.content
    assert created.json()["requested_by"] == f"widget:{agent.pk}"
    problem(redeem(widget, cinema, agent="a2"), 403)  # not for someone else
    problem(act(widget, created.json()["id"], "approve"), 403)  # nor decide
    theirs = redeem(api, cinema, agent="a2").json()
    assert [r["id"] for r in widget.get(REDEMPTIONS).json()["results"]] == [created.json()["id"]]
    problem(widget.get(f"{REDEMPTIONS}/{theirs['id']}"), 404)
    assert widget.get(f"{REDEMPTIONS}/{created.json()['id']}").status_code == 200
    assert balance(agent) == 70
    assert balance(other_agent) == 70
