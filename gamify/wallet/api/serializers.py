"""What the wallet API reads and writes: strict inputs, explicit outputs."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.api.views import HttpsUrlField
from core.api.base import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
)
from core.ids import MAX_ID
from gamify.wallet.models import MAX_AMOUNT, MAX_QUANTITY, LedgerEntry, Redemption, Reward


class TransactionOutput(serializers.Serializer[LedgerEntry]):
    id = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="Coins: positive credits, negative debits")
    balance_after = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LedgerEntry.Kind.choices)
    reference = serializers.CharField(help_text="What the movement is for (a grant's reason …)")
    actor = serializers.CharField(help_text="Who moved the coins: a credential id or system")
    created_at = serializers.DateTimeField()


class WalletOutput(serializers.Serializer[Any]):
    agent = serializers.CharField()
    balance = serializers.IntegerField()
    transactions = TransactionOutput(many=True, help_text="Newest first, one page")
    next = serializers.URLField(allow_null=True, help_text="The next page of transactions")


class GrantInput(StrictSerializer):
    amount = StrictIntegerField(min_value=1, max_value=MAX_AMOUNT)
    reason = StrictCharField(max_length=500)


class GrantOutput(TransactionOutput):
    agent = serializers.CharField(source="agent.external_id")


class RewardOutput(serializers.Serializer[Reward]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    image_url = serializers.URLField(allow_null=True)
    cost = serializers.IntegerField(help_text="Coins per unit")
    stock = serializers.IntegerField(allow_null=True, help_text="Units left; null: unlimited")
    per_agent_monthly_limit = serializers.IntegerField(
        allow_null=True, help_text="Most units one agent may redeem per calendar month"
    )
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RewardPage(serializers.Serializer[Any]):
    results = RewardOutput(many=True)
    next = serializers.URLField(allow_null=True)


class RewardInput(StrictSerializer):
    """Structure here; the catalogue's rules in `services.reward_validate`. A reward to
    create needs `name` and `cost`; a PATCH sends any of the fields."""

    name = StrictCharField(max_length=200)
    description = StrictCharField(max_length=2000, allow_blank=True, required=False)
    image_url = HttpsUrlField(max_length=500, allow_null=True, required=False)
    cost = StrictIntegerField(min_value=1, max_value=MAX_AMOUNT)
    stock = StrictIntegerField(min_value=0, max_value=MAX_AMOUNT, allow_null=True, required=False)
    per_agent_monthly_limit = StrictIntegerField(
        min_value=1, max_value=MAX_AMOUNT, allow_null=True, required=False
    )
    active = StrictBooleanField(required=False)


class RedemptionOutput(serializers.Serializer[Redemption]):
    id = serializers.IntegerField()
    agent = serializers.CharField(source="agent.external_id")
    reward = serializers.IntegerField(source="reward_id")
    reward_name = serializers.CharField(source="reward.name")
    quantity = serializers.IntegerField()
    unit_cost = serializers.IntegerField(help_text="The reward's cost when requested")
    total_cost = serializers.IntegerField(help_text="Coins debited (refunded on rejection)")
    status = serializers.ChoiceField(choices=Redemption.Status.choices)
    note = serializers.CharField()
    requested_by = serializers.CharField()
    decided_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    fulfilled_at = serializers.DateTimeField(allow_null=True)


class RedemptionPage(serializers.Serializer[Any]):
    results = RedemptionOutput(many=True)
    next = serializers.URLField(allow_null=True)


class RedemptionInput(StrictSerializer):
    agent = StrictCharField(max_length=128)
    reward = StrictIntegerField(min_value=1, max_value=MAX_ID)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)


class TransitionInput(StrictSerializer):
    note = StrictCharField(max_length=500, allow_blank=True, required=False)
