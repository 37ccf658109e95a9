"""A changed tenant (timezone, week start …) is seen at once by its cached API keys."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.api.auth import key_cache_name
from accounts.models import ApiKey, Tenant


@receiver(post_save, sender=Tenant, dispatch_uid="accounts.tenant_saved")
def tenant_saved(sender: Any, instance: Tenant, **kwargs: Any) -> None:
    prefixes = ApiKey.objects.filter(tenant=instance).values_list("prefix", flat=True)
    cache.delete_many([key_cache_name(p) for p in prefixes])
