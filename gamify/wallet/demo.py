"""The demo tenant's store: a catalogue, balances from managers' kudos, a points-to-coins rate and
redemptions in every state. Safe to run again: fixed idempotency keys, nothing doubles."""

from __future__ import annotations

from typing import Any

from accounts.models import Agent, Tenant
from core.errors import ApplicationError
from gamify.wallet import services
from gamify.wallet.models import ConversionRule, Redemption, Reward

ACTOR = "demo"
CATALOGUE: list[dict[str, Any]] = [
    {
        "name": "Cinema ticket",
        "description": "Two seats at the cinema of your choice.",
        "cost": 120,
        "stock": 40,
        "per_agent_monthly_limit": 2,
    },
    {
        "name": "Extra 15-minute break",
        "description": "Take it when the queue allows, agreed with your supervisor.",
        "cost": 40,
        "stock": None,
        "per_agent_monthly_limit": 4,
    },
    {
        "name": "Reserved parking spot (one week)",
        "description": "The spot next to the entrance, Monday to Sunday.",
        "cost": 200,
        "stock": 3,
    },
    {
        "name": "Team lunch",
        "description": "Lunch for your team, on us.",
        "cost": 500,
        "stock": 5,
    },
    {
        "name": "Coffee voucher",
        "description": "Any drink at the corner café.",
        "cost": 25,
        "stock": None,
    },
    {
        "name": "Half day off",
        "description": "Four paid hours off, scheduled with workforce management.",
        "cost": 800,
        "stock": 10,
        "per_agent_monthly_limit": 1,
    },
    {
        "name": "Noise-cancelling headset",
        "description": "A premium headset for calmer calls.",
        "cost": 1500,
        "stock": 2,
    },
]
GRANTS = [400, 300, 250, 500, 350, 900, 1000, 200, 150, 600, 300, 450]
# (agent index, reward, quantity, status to bring it to)
REDEMPTIONS: list[tuple[int, str, int, str]] = [
    (0, "Cinema ticket", 1, Redemption.Status.REQUESTED),
    (1, "Extra 15-minute break", 2, Redemption.Status.REQUESTED),
    (2, "Coffee voucher", 3, Redemption.Status.APPROVED),
    (3, "Reserved parking spot (one week)", 1, Redemption.Status.APPROVED),
    (4, "Cinema ticket", 1, Redemption.Status.FULFILLED),
    (5, "Team lunch", 1, Redemption.Status.FULFILLED),
    (6, "Half day off", 1, Redemption.Status.REJECTED),
    (7, "Extra 15-minute break", 1, Redemption.Status.REJECTED),
]
# The transitions leading from `requested` to each status.
PATHS: dict[str, list[str]] = {
    Redemption.Status.REQUESTED: [],
    Redemption.Status.APPROVED: ["approve"],
    Redemption.Status.FULFILLED: ["approve", "fulfil"],
    Redemption.Status.REJECTED: ["reject"],
}


def seed_wallet(tenant: Tenant) -> None:
    rewards = {r.name: r for r in Reward.objects.for_tenant(tenant)}
    for values in CATALOGUE:
        if values["name"] not in rewards:
            rewards[values["name"]] = services.reward_create(tenant=tenant, values=values)
    if not ConversionRule.objects.for_tenant(tenant).exists():
        services.conversion_rule_set(tenant=tenant, points_per_coin=10)

    agents = list(Agent.objects.for_tenant(tenant).filter(active=True).order_by("external_id"))
    for agent, amount in zip(agents, GRANTS, strict=False):
        services.wallet_grant(
            tenant=tenant,
            agent=agent,
            amount=amount,
            reason="Welcome to the rewards store",
            actor=ACTOR,
            idempotency_key=f"demo:grant:{agent.external_id}",
        )

    for n, (index, reward_name, quantity, status) in enumerate(REDEMPTIONS):
        if index >= len(agents):
            break
        try:
            redemption, _ = services.redemption_request(
                tenant=tenant,
                agent=agents[index],
                reward_id=rewards[reward_name].pk,
                quantity=quantity,
                actor=ACTOR,
                request_key=f"demo:redemption:{n}",
            )
            # Bring it to its demo status, from wherever it is (a re-run, or a manager who
            # already moved it on: then the remaining steps are refused and skipped).
            for action in PATHS[status]:
                if redemption.status == status:
                    break
                redemption = services.redemption_transition(
                    tenant=tenant, redemption_id=redemption.pk, action=action, actor=ACTOR
                )
        except ApplicationError:
            continue  # spent, out of stock or moved on by hand since: leave it as it is
