"""Reads of webhook endpoints and deliveries, always within one tenant."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from accounts.models import Tenant
from gamify.webhooks.models import Attempt, Delivery, Endpoint


def endpoint_list(*, tenant: Tenant) -> QuerySet[Endpoint]:
    return Endpoint.objects.for_tenant(tenant)


def endpoint_get(*, tenant: Tenant, endpoint_id: int) -> Endpoint | None:
    return Endpoint.objects.for_tenant(tenant).filter(pk=endpoint_id).first()


def delivery_list(*, tenant: Tenant, endpoint: Endpoint) -> QuerySet[Delivery]:
    """An endpoint's deliveries with their attempts, oldest attempt first (two queries)."""
    return (
        Delivery.objects.for_tenant(tenant)
        .filter(endpoint=endpoint)
        .prefetch_related(Prefetch("attempt_set", queryset=Attempt.objects.order_by("id")))
    )


def delivery_get(*, tenant: Tenant, endpoint: Endpoint, delivery_id: int) -> Delivery | None:
    return delivery_list(tenant=tenant, endpoint=endpoint).filter(pk=delivery_id).first()
