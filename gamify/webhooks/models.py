"""Webhook endpoints, their deliveries (the outbox rows) and every attempt to send one."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from accounts.models import TenantOwned
from gamify.activity.models import Activity

# What an endpoint subscribes to: the activity types (API.md, Game state) or "*" for all.
ALL_EVENTS = "*"
PING = "ping"


class Endpoint(TenantOwned):
    """A receiver URL of a tenant. Its signing secret is never stored: only a random salt,
    from which the secret is derived with a key of SECRET_KEY (gamify/webhooks/signing.py), so
    a copy of the database alone cannot sign, and nobody can read a secret back."""

    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)  # activity types, or ["*"]
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True, default="")
    secret_salt = models.CharField(max_length=64)
    secret_prefix = models.CharField(max_length=16, help_text="The secret's first characters")
    # After a rotation the previous secret keeps signing (a second signature) until then.
    previous_secret_salt = models.CharField(max_length=64, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Set at the first failure of a run of failures, cleared by a success: 24 h of it disables.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "active"], name="webhook_endpoint_active")]

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events


class Delivery(TenantOwned):
    """One event for one endpoint: written in the transaction of the activity it carries, then
    sent (at least once) until it succeeds or has been failing for 24 h."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waits for its next attempt (next_attempt_at)
        SENDING = "sending"  # leased by a worker until locked_until
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # gave up: retried for 24 h, or the endpoint was disabled

    # The id receivers de-duplicate on (X-Gamify-Delivery): kept by retries and redeliveries.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the first attempt was made: retries stop 24 h after it.
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            # An activity reaches an endpoint once (a second line behind activities_record).
            models.UniqueConstraint(
                fields=["endpoint", "activity"],
                condition=Q(activity__isnull=False),
                name="webhook_delivery_once",
            )
        ]
        indexes = [
            # The sweeper: due pending deliveries, and expired leases.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(
                fields=["locked_until"],
                condition=Q(status="sending"),
                name="webhook_delivery_leased",
            ),
            # GET /webhooks/{id}/deliveries, newest first.
            models.Index(fields=["tenant", "endpoint", "-id"], name="webhook_delivery_list"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP request of a delivery: what the receiver answered, or why none came."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=1000, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["delivery", "-id"], name="webhook_attempt_list")]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} in {self.duration_ms} ms"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
