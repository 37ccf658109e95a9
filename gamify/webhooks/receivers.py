"""The webhooks' subscription to the activity feed (the outbox hook)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from gamify.activity.models import Activity
from gamify.activity.signals import activities_recorded
from gamify.webhooks.services import deliveries_create_for


@receiver(activities_recorded, dispatch_uid="gamify.webhooks.activities_recorded")
def activities_recorded_deliver(
    sender: Any, *, tenant_id: int, activities: list[Activity], **kwargs: Any
) -> None:
    # Inside activities_record's transaction: the deliveries commit with the activities.
    deliveries_create_for(tenant_id=tenant_id, activities=activities)
