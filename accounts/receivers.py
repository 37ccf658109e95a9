"""A changed tenant (timezone, week start …) is seen at once by its cached API keys."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.api.auth import forget_key
from accounts.models import ApiKey, Tenant


@receiver(post_save, sender=Tenant, dispatch_uid="accounts.tenant_saved")
def tenant_saved(sender: Any, instance: Tenant, **kwargs: Any) -> None:
    for prefix in ApiKey.objects.filter(tenant=instance).values_list("prefix", flat=True):
        forget_key(prefix)
