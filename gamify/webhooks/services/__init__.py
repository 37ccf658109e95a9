"""Webhook writes: endpoints and their secrets, the outbox, sending, retrying, sweeping.

The flow: `activities_record` writes activity rows and, in the same transaction,
`deliveries_create_for` writes one Delivery per subscribed active endpoint (the outbox) and
asks, on commit, for each to be sent (`webhook_deliver`). A worker claims a delivery with a
lease (`delivery_send`), posts it outside any transaction, records the Attempt and either marks
it succeeded or schedules its retry. Retries, deliveries whose task was lost with the broker
and leases of a worker that died are picked up by `deliveries_sweep` (beat, every 30 s).
Delivery is at least once: a receiver de-duplicates on X-Gamify-Delivery.

The package: `endpoints` (subscriptions and their secrets), `outbox` (deliveries written with
their activities, pings, redeliveries) and `sending` (claiming, posting, recording, retrying,
disabling, sweeping). Callers import from here.
"""

from gamify.webhooks.services.endpoints import (
    EVENT_CHOICES,
    MAX_EVENTS,
    ROTATION_GRACE,
    EndpointWithSecret,
    clean_events,
    clean_url,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_update,
    signing_secrets,
)
from gamify.webhooks.services.outbox import (
    activity_payload,
    deliveries_create_for,
    delivery_redeliver,
    endpoint_ping,
    send_on_commit,
)
from gamify.webhooks.services.sending import (
    FIRST_RETRY_SECONDS,
    MAX_RETRY_SECONDS,
    PURGE_BATCH,
    RETRY_FOR,
    SWEEP_BATCH,
    deliveries_purge,
    deliveries_sweep,
    delivery_body,
    delivery_headers,
    delivery_send,
    endpoint_disable,
    lease_seconds,
    retry_delay,
)

__all__ = [
    "EVENT_CHOICES",
    "FIRST_RETRY_SECONDS",
    "MAX_EVENTS",
    "MAX_RETRY_SECONDS",
    "PURGE_BATCH",
    "RETRY_FOR",
    "ROTATION_GRACE",
    "SWEEP_BATCH",
    "EndpointWithSecret",
    "activity_payload",
    "clean_events",
    "clean_url",
    "deliveries_create_for",
    "deliveries_purge",
    "deliveries_sweep",
    "delivery_body",
    "delivery_headers",
    "delivery_redeliver",
    "delivery_send",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_disable",
    "endpoint_ping",
    "endpoint_rotate_secret",
    "endpoint_update",
    "lease_seconds",
    "retry_delay",
    "send_on_commit",
    "signing_secrets",
]
