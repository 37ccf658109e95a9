"""The wallet, the rewards catalogue and redemptions over HTTP (API.md: Wallet and rewards).

Every POST that moves coins or stock takes an `Idempotency-Key` (`@idempotent`).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.auth import HasScope, Principal
from accounts.api.base import TenantAPIView
from accounts.api.idempotency import idempotent
from core.api.base import get_for_tenant_or_404, problems, request_data
from core.api.pagination import PAGE_PARAMETERS, CursorPagination
from core.errors import InvalidInputError
from gamify.wallet import selectors, services
from gamify.wallet.api.serializers import (
    GrantInput,
    GrantOutput,
    RedemptionInput,
    RedemptionOutput,
    RedemptionPage,
    RewardInput,
    RewardOutput,
    RewardPage,
    TransactionOutput,
    TransitionInput,
    WalletOutput,
)
from gamify.wallet.models import Redemption, Reward

IDEMPOTENCY = (
    " Send an `Idempotency-Key` header: a repeat with the same key and body replays the first "
    "answer (same status and body, header `Idempotent-Replayed: true`); the same key with "
    "another body is a 409. Keys expire after 24 h."
)


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw not in (None, "true", "false"):
        raise InvalidInputError({name: "Must be true or false."})
    return None if raw is None else raw == "true"


# --- wallet ---------------------------------------------------------------------------------
class WalletApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="wallet_retrieve",
        parameters=PAGE_PARAMETERS,
        responses={200: WalletOutput, **problems(400, 404)},
        description=(
            "The agent's balance and its ledger, newest first, paginated with `limit` and "
            "`cursor` (`next` is the following page). An agent's widget token may read its own."
        ),
    )
    def get(self, request: Request, external_id: str) -> Response:
        agent = self.get_agent(external_id)
        paginator = CursorPagination()
        paginator.ordering = "-id"
        page: Any = paginator.paginate_queryset(
            selectors.ledger_list(tenant=self.tenant, agent_id=agent.pk), request, view=self
        )
        return Response(
            {
                "agent": agent.external_id,
                "balance": selectors.wallet_balance(tenant=self.tenant, agent_id=agent.pk),
                "transactions": TransactionOutput(page, many=True).data,
                "next": paginator.get_next_link(),
            }
        )


class WalletGrantApi(TenantAPIView):
    @extend_schema(
        operation_id="wallet_grants_create",
        request=GrantInput,
        responses={201: GrantOutput, **problems(400, 404, 409)},
        description="A manager's kudos: credit the agent `amount` (> 0) coins." + IDEMPOTENCY,
    )
    @idempotent
    def post(self, request: Request, external_id: str) -> Response:
        agent = self.get_agent(external_id)
        data = GrantInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        entry = services.wallet_grant(
            tenant=self.tenant,
            agent=agent,
            amount=data.validated_data["amount"],
            reason=data.validated_data["reason"],
            actor=self.principal.credential,
        )
        return Response(GrantOutput(entry).data, status=status.HTTP_201_CREATED)


# --- rewards --------------------------------------------------------------------------------
class RewardListApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="rewards_list",
        parameters=[
            OpenApiParameter("active", bool, description="true or false"),
            *PAGE_PARAMETERS,
        ],
        responses={200: RewardPage, **problems(400)},
        description="The tenant's catalogue. A widget token sees the active rewards only.",
    )
    def get(self, request: Request) -> Response:
        active = True if self.principal.is_widget else _flag(request, "active")
        rewards = selectors.reward_list(tenant=self.tenant, active=active)
        return self.paginate(rewards, RewardOutput, ordering="id")

    @extend_schema(
        operation_id="rewards_create",
        request=RewardInput,
        responses={201: RewardOutput, **problems(400)},
        description="Add a reward; `name` and `cost` are required, `stock` null is unlimited.",
    )
    def post(self, request: Request) -> Response:
        data = RewardInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        reward = services.reward_create(tenant=self.tenant, values=data.validated_data)
        response = Response(RewardOutput(reward).data, status=status.HTTP_201_CREATED)
        response["Location"] = reverse("reward-detail", args=[reward.pk])
        return response


class RewardDetailApi(TenantAPIView):
    widget_access = True

    def _reward(self, reward_id: int) -> Reward:
        # A widget sees only the rewards on offer: another is simply not there for it.
        rewards = Reward.objects.filter(active=True) if self.principal.is_widget else Reward.objects
        return get_for_tenant_or_404(rewards, self.tenant, f"No reward {reward_id}.", pk=reward_id)

    @extend_schema(operation_id="rewards_retrieve", responses={200: RewardOutput, **problems(404)})
    def get(self, request: Request, reward_id: int) -> Response:
        return Response(RewardOutput(self._reward(reward_id)).data)

    @extend_schema(
        operation_id="rewards_update",
        request=RewardInput,
        responses={200: RewardOutput, **problems(400, 404)},
        description="Change any of the fields; `stock` sets the units left.",
    )
    def patch(self, request: Request, reward_id: int) -> Response:
        reward = self._reward(reward_id)
        data = RewardInput(data=request_data(request), partial=True)
        data.is_valid(raise_exception=True)
        reward = services.reward_update(reward=reward, changes=data.validated_data)
        return Response(RewardOutput(reward).data)

    @extend_schema(
        operation_id="rewards_delete",
        responses={204: None, **problems(404)},
        description=(
            "Remove the reward from the store: deleted when nobody redeemed it, otherwise "
            "deactivated (its redemptions keep pointing at it)."
        ),
    )
    def delete(self, request: Request, reward_id: int) -> Response:
        services.reward_delete(reward=self._reward(reward_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- redemptions ----------------------------------------------------------------------------
class ManageOrOwnWidget(HasScope):
    """Redeeming: a `manage` credential for any agent, or an agent's widget token for itself
    (its agent spends its own coins from the store widget; the view refuses other agents)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if isinstance(principal, Principal) and principal.is_widget and request.method == "POST":
            return True
        return super().has_permission(request, view)


class RedemptionListApi(TenantAPIView):
    widget_access = True
    permission_classes = [ManageOrOwnWidget]

    @extend_schema(
        operation_id="redemptions_list",
        parameters=[
            OpenApiParameter("status", str, enum=Redemption.Status.values),
            OpenApiParameter("agent", str, description="Only this agent's redemptions"),
            *PAGE_PARAMETERS,
        ],
        responses={200: RedemptionPage, **problems(400, 404)},
        description="Newest first. A widget token sees its own agent's redemptions only.",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        wanted = params.get("status")
        if wanted is not None and wanted not in Redemption.Status.values:
            raise InvalidInputError({"status": f"One of {', '.join(Redemption.Status.values)}."})
        agent_id = None
        if self.principal.is_widget:
            agent_id = self.principal.agent_id
        elif params.get("agent"):
            agent_id = self.get_agent(params["agent"]).pk
        redemptions = selectors.redemption_list(
            tenant=self.tenant, status=wanted, agent_id=agent_id
        )
        return self.paginate(redemptions, RedemptionOutput, ordering="-id")

    @extend_schema(
        operation_id="redemptions_create",
        request=RedemptionInput,
        responses={201: RedemptionOutput, **problems(400, 404, 409)},
        description=(
            "Redeem a reward: the coins are debited at once and the stock reserved; the "
            "redemption waits as `requested` for a manager. Allowed to a `manage` credential "
            "for any agent, and to an agent's widget token for that agent only. 409 problems: "
            "`…/insufficient-funds`, `…/out-of-stock`, `…/limit-reached` (the reward's monthly "
            "limit per agent), `…/reward-inactive`." + IDEMPOTENCY
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = RedemptionInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        values = data.validated_data
        agent = self.get_agent(values["agent"])
        redemption, _ = services.redemption_request(
            tenant=self.tenant,
            agent=agent,
            reward_id=values["reward"],
            quantity=values["quantity"],
            actor=self.principal.credential,
        )
        response = Response(RedemptionOutput(redemption).data, status=status.HTTP_201_CREATED)
        response["Location"] = reverse("redemption-detail", args=[redemption.pk])
        return response


class RedemptionDetailApi(TenantAPIView):
    widget_access = True

    @extend_schema(
        operation_id="redemptions_retrieve", responses={200: RedemptionOutput, **problems(404)}
    )
    def get(self, request: Request, redemption_id: int) -> Response:
        redemptions = Redemption.objects.select_related("agent", "reward")
        if (widget_agent := self.principal.agent_id) is not None:  # a widget: its agent's only
            redemptions = redemptions.filter(agent_id=widget_agent)
        redemption = get_for_tenant_or_404(
            redemptions, self.tenant, f"No redemption {redemption_id}.", pk=redemption_id
        )
        return Response(RedemptionOutput(redemption).data)


class RedemptionTransitionApi(TenantAPIView):
    """POST /redemptions/{id}/<action> (scope manage); subclasses name the action."""

    action = ""

    def transition(self, request: Request, redemption_id: int) -> Response:
        data = TransitionInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        redemption = services.redemption_transition(
            tenant=self.tenant,
            redemption_id=redemption_id,
            action=self.action,
            actor=self.principal.credential,
            note=data.validated_data.get("note", ""),
        )
        return Response(RedemptionOutput(redemption).data)


def _transition_schema(operation_id: str, description: str) -> Any:
    return extend_schema(
        operation_id=operation_id,
        request=TransitionInput,
        responses={200: RedemptionOutput, **problems(400, 404, 409)},
        description=description
        + " Repeating the transition that led to the current status changes nothing; any "
        "other order is a 409 `…/invalid-transition`. An optional `note` is kept on the "
        "redemption and in its activity event." + IDEMPOTENCY,
    )


class RedemptionApproveApi(RedemptionTransitionApi):
    action = "approve"

    @_transition_schema("redemptions_approve", "requested → approved.")
    @idempotent
    def post(self, request: Request, redemption_id: int) -> Response:
        return self.transition(request, redemption_id)


class RedemptionRejectApi(RedemptionTransitionApi):
    action = "reject"

    @_transition_schema(
        "redemptions_reject",
        "requested or approved → rejected: the coins are refunded (a `refund` ledger entry) "
        "and the units go back into stock. The `note` is the rejection's reason, which the "
        "agent reads with the redemption; rejecting without one clears an earlier note.",
    )
    @idempotent
    def post(self, request: Request, redemption_id: int) -> Response:
        return self.transition(request, redemption_id)


class RedemptionFulfillApi(RedemptionTransitionApi):
    action = "fulfil"

    @_transition_schema(
        "redemptions_fulfill",
        "approved → fulfilled (the agent got the reward). `POST …/fulfil`, the British "
        "spelling, is the same operation at another URL (left out of this schema).",
    )
    @idempotent
    def post(self, request: Request, redemption_id: int) -> Response:
        return self.transition(request, redemption_id)


@extend_schema(exclude=True)  # one operation, two spellings: the schema documents `fulfill`
class RedemptionFulfilApi(RedemptionFulfillApi):
    pass
