"""Webhook endpoints, their deliveries (the outbox rows) and every attempt to send one."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import TenantOwned
from gamify.activity.models import Activity

# What an endpoint subscribes to: the activity types (API.md, Game state) or "*" for all.
ALL_EVENTS = "*"
PING = "ping"


class Endpoint(TenantOwned):
    """A receiver URL of a tenant. Its signing secret is never stored: only a random salt,
    from which the secret is derived with a key of SECRET_KEY (gamify/webhooks/signing.py), so
    a copy of the database alone cannot sign, and nobody can read a secret back."""

    url = models.URLField(_("URL"), max_length=2000)
    events = models.JSONField(_("events"), default=list)  # activity types, or ["*"]
    active = models.BooleanField(_("active"), default=True)
    description = models.CharField(_("description"), max_length=200, blank=True, default="")
    secret_salt = models.CharField(_("secret salt"), max_length=64)
    secret_prefix = models.CharField(
        _("secret prefix"), max_length=16, help_text=_("The secret's first characters")
    )
    # After a rotation the previous secret keeps signing (a second signature) until then.
    previous_secret_salt = models.CharField(
        _("previous secret salt"), max_length=64, blank=True, default=""
    )
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret expires at"), null=True, blank=True
    )
    # Set at the first failure of a run of failures, cleared by a success: 24 h of it disables.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(_("disabled reason"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("endpoint")
        verbose_name_plural = _("endpoints")
        indexes = [models.Index(fields=["tenant", "active"], name="webhook_endpoint_active")]

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events


class Delivery(TenantOwned):
    """One event for one endpoint: written in the transaction of the activity it carries, then
    sent (at least once) until it succeeds or has been failing for 24 h."""

    class Status(models.TextChoices):  # labels translated for the admin
        PENDING = "pending", _("Pending")  # waits for its next attempt (next_attempt_at)
        SENDING = "sending", _("Sending")  # leased by a worker until locked_until
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")  # gave up: retried for 24 h, or the endpoint was disabled

    # The id receivers de-duplicate on (X-Gamify-Delivery): kept by retries and redeliveries.
    uuid = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    activity = models.ForeignKey(
        Activity,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("activity"),
    )
    event_type = models.CharField(_("event type"), max_length=40)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # When the first attempt was made: retries stop 24 h after it.
    first_attempt_at = models.DateTimeField(_("first attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
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

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempt_set", verbose_name=_("delivery")
    )
    started_at = models.DateTimeField(_("started at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    response_excerpt = models.CharField(
        _("response excerpt"), max_length=1000, blank=True, default=""
    )
    error = models.CharField(_("error"), max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        indexes = [models.Index(fields=["delivery", "-id"], name="webhook_attempt_list")]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} in {self.duration_ms} ms"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
