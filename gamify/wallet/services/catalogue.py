"""The rewards catalogue: one set of rules for the API and the admin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from accounts.audit.services import audit_record, snapshot
from accounts.models import Tenant
from core.errors import InvalidInputError
from gamify.wallet.models import MAX_AMOUNT, Redemption, Reward

REWARD_FIELDS = (
    "name",
    "description",
    "image_url",
    "cost",
    "stock",
    "per_agent_monthly_limit",
    "active",
)


def _whole(value: Any, field: str, *, low: int, nullable: bool) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError({field: "Must be a whole number."})
    if not low <= value <= MAX_AMOUNT:
        raise InvalidInputError({field: f"Must be from {low} to {MAX_AMOUNT}."})
    return value


def reward_validate(*, values: Mapping[str, Any]) -> dict[str, Any]:
    """The catalogue's rules, shared by the API and the admin; 400s name the field."""
    cleaned: dict[str, Any] = {}
    unknown = sorted(set(values) - set(REWARD_FIELDS))
    if unknown:
        raise InvalidInputError(dict.fromkeys(unknown, "Unknown field."))
    if "name" in values:
        name = values["name"]
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError({"name": "Give the reward a name."})
        cleaned["name"] = name.strip()[:200]
    if "description" in values:
        cleaned["description"] = str(values["description"] or "")
    if "image_url" in values:
        url = values["image_url"] or None
        if url is not None and not (isinstance(url, str) and url.lower().startswith("https://")):
            raise InvalidInputError({"image_url": "Must be an https:// URL."})
        cleaned["image_url"] = url
    if "cost" in values:
        cleaned["cost"] = _whole(values["cost"], "cost", low=1, nullable=False)
    if "stock" in values:
        cleaned["stock"] = _whole(values["stock"], "stock", low=0, nullable=True)
    if "per_agent_monthly_limit" in values:
        cleaned["per_agent_monthly_limit"] = _whole(
            values["per_agent_monthly_limit"], "per_agent_monthly_limit", low=1, nullable=True
        )
    if "active" in values:
        if not isinstance(values["active"], bool):
            raise InvalidInputError({"active": "Must be true or false."})
        cleaned["active"] = values["active"]
    return cleaned


def reward_create(*, tenant: Tenant, values: Mapping[str, Any]) -> Reward:
    cleaned = reward_validate(values=values)
    missing = [f for f in ("name", "cost") if f not in cleaned]
    if missing:
        raise InvalidInputError(dict.fromkeys(missing, "This field is required."))
    with transaction.atomic():
        reward = Reward.objects.create(tenant=tenant, **cleaned)
        audit_record(
            tenant=tenant,
            action="create",
            object_type="reward",
            object_id=reward.pk,
            object_repr=reward.name,
            after=snapshot(reward, REWARD_FIELDS),
        )
    return reward


def reward_update(*, reward: Reward, changes: Mapping[str, Any]) -> Reward:
    cleaned = reward_validate(values=changes)
    if cleaned:
        with transaction.atomic():
            # The stored row is the "before": the admin hands in an instance already changed.
            stored = Reward.objects.filter(tenant_id=reward.tenant_id, pk=reward.pk).first()
            for name, value in cleaned.items():
                setattr(reward, name, value)
            reward.save(update_fields=[*cleaned, "updated_at"])
            audit_record(
                tenant=reward.tenant_id,
                action="update",
                object_type="reward",
                object_id=reward.pk,
                object_repr=reward.name,
                before=snapshot(stored, REWARD_FIELDS) if stored is not None else None,
                after=snapshot(reward, REWARD_FIELDS),
            )
    return reward


def reward_delete(*, reward: Reward) -> bool:
    """Delete a reward nobody redeemed; otherwise deactivate it (its redemptions keep
    pointing at it). True when deleted."""
    with transaction.atomic():
        before = snapshot(reward, REWARD_FIELDS)
        if not Redemption.objects.filter(tenant_id=reward.tenant_id, reward=reward).exists():
            reward_id = reward.pk
            reward.delete()
            audit_record(
                tenant=reward.tenant_id,
                action="delete",
                object_type="reward",
                object_id=reward_id,
                object_repr=reward.name,
                before=before,
            )
            return True
        if reward.active:
            reward.active = False
            reward.save(update_fields=["active", "updated_at"])
            audit_record(
                tenant=reward.tenant_id,
                action="update",
                object_type="reward",
                object_id=reward.pk,
                object_repr=reward.name,
                before={"active": True},
                after={"active": False},
            )
    return False
