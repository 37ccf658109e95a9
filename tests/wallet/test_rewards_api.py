"""The rewards catalogue: /rewards and /rewards/{id}."""

from __future__ import annotations

import pytest

from gamify.wallet import services
from gamify.wallet.models import Reward
from tests.helpers import problem

pytestmark = pytest.mark.django_db

REWARDS = "/api/v1/rewards"
CINEMA = {
    "name": "Cinema ticket",
    "description": "Two seats",
    "image_url": "https://cdn.example.com/cinema.png",
    "cost": 120,
    "stock": 40,
    "per_agent_monthly_limit": 2,
}


def test_create_read_update(api):
    created = api.post(REWARDS, CINEMA, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert {k: body[k] for k in CINEMA} == CINEMA
    assert body["active"] is True
    assert created["Location"] == f"{REWARDS}/{body['id']}"
    assert api.get(f"{REWARDS}/{body['id']}").json() == body
    patched = api.patch(f"{REWARDS}/{body['id']}", {"stock": None, "cost": 99}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["stock"], patched.json()["cost"]) == (None, 99)
    assert patched.json()["name"] == "Cinema ticket"
    assert [r["name"] for r in api.get(REWARDS).json()["results"]] == ["Cinema ticket"]


def test_minimal_reward(api):
    body = api.post(REWARDS, {"name": "Coffee", "cost": 5}, format="json").json()
    assert body["stock"] is None
    assert body["per_agent_monthly_limit"] is None
    assert body["image_url"] is None
    assert body["description"] == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cost": 5}, "name"),
        ({"name": "x"}, "cost"),
        ({"name": "x", "cost": 0}, "cost"),
        ({"name": "x", "cost": -1}, "cost"),
        ({"name": "x", "cost": 1.5}, "cost"),
        ({"name": "x", "cost": "5"}, "cost"),
        ({"name": "x", "cost": 10**30}, "cost"),
        ({"name": "x", "cost": 5, "stock": -1}, "stock"),
        ({"name": "x", "cost": 5, "per_agent_monthly_limit": 0}, "per_agent_monthly_limit"),
        ({"name": "x", "cost": 5, "image_url": "http://insecure.example.com/a.png"}, "image_url"),
        ({"name": "x", "cost": 5, "image_url": "not a url"}, "image_url"),
        ({"name": "", "cost": 5}, "name"),
        ({"name": "x", "cost": 5, "active": "yes"}, "active"),
        ({"name": "x", "cost": 5, "price": 5}, "price"),
    ],
)
def test_bad_rewards_are_400s_naming_the_field(api, body, field):
    assert field in problem(api.post(REWARDS, body, format="json"), 400)["errors"]
    assert not Reward.objects.exists()


def test_bad_patch(api, tenant, make_reward):
    reward = make_reward(tenant)
    assert (
        "cost"
        in problem(api.patch(f"{REWARDS}/{reward.pk}", {"cost": 0}, format="json"), 400)["errors"]
    )


def test_delete_removes_an_unredeemed_reward_and_deactivates_a_redeemed_one(
    api, tenant, agent, make_reward, fund
):
    unused = make_reward(tenant, name="Unused")
    assert api.delete(f"{REWARDS}/{unused.pk}").status_code == 204
    assert not Reward.objects.filter(pk=unused.pk).exists()
    used = make_reward(tenant, name="Used", cost=1)
    fund(agent, 1)
    services.redemption_request(tenant=tenant, agent=agent, reward_id=used.pk, actor="t")
    assert api.delete(f"{REWARDS}/{used.pk}").status_code == 204
    used.refresh_from_db()
    assert used.active is False
    assert [r["name"] for r in api.get(REWARDS, {"active": "false"}).json()["results"]] == ["Used"]
    assert api.get(REWARDS, {"active": "true"}).json()["results"] == []
    problem(api.get(REWARDS, {"active": "maybe"}), 400)


def test_another_tenants_reward_is_404(api, outsider, make_reward):
    theirs = make_reward(outsider)
    problem(api.get(f"{REWARDS}/{theirs.pk}"), 404)
    problem(api.patch(f"{REWARDS}/{theirs.pk}", {"cost": 1}, format="json"), 404)
    problem(api.delete(f"{REWARDS}/{theirs.pk}"), 404)
    assert api.get(REWARDS).json()["results"] == []
    problem(api.get(f"{REWARDS}/{10**30}"), 404)


def test_scopes_and_widget_tokens(make_client, tenant, agent, widget_client, make_reward):
    shown = make_reward(tenant, name="Shown")
    hidden = make_reward(tenant, name="Hidden", active=False)
    reader = make_client(tenant, ("read",))
    assert len(reader.get(REWARDS).json()["results"]) == 2
    problem(reader.post(REWARDS, {"name": "x", "cost": 1}, format="json"), 403)
    problem(reader.patch(f"{REWARDS}/{shown.pk}", {"cost": 1}, format="json"), 403)
    widget = widget_client(agent)
    assert [r["name"] for r in widget.get(REWARDS).json()["results"]] == ["Shown"]
    assert widget.get(f"{REWARDS}/{shown.pk}").status_code == 200
    problem(widget.get(f"{REWARDS}/{hidden.pk}"), 404)
    problem(widget.post(REWARDS, {"name": "x", "cost": 1}, format="json"), 403)
    problem(widget.delete(f"{REWARDS}/{shown.pk}"), 403)
