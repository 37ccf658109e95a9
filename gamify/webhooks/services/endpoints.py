"""Webhook endpoints: subscriptions, their checks (the SSRF guard) and their secrets.

Every change is recorded in the audit log here, whichever path (admin, API) made it. A secret
never is: a rotation records the public `secret_prefix` (the API shows it too), never a salt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit.services import audit_record, snapshot
from accounts.models import Tenant
from core.errors import InvalidInputError
from gamify.activity.models import ACTIVITY_TYPES
from gamify.webhooks import guard, signing
from gamify.webhooks.models import ALL_EVENTS, Endpoint

ROTATION_GRACE = timedelta(hours=24)
EVENT_CHOICES = (*ACTIVITY_TYPES, ALL_EVENTS)
MAX_EVENTS = len(EVENT_CHOICES)
# What the audit log keeps of an endpoint (never its salts: they stand for its secrets).
AUDIT_FIELDS = ("url", "events", "active", "description")


@dataclass(frozen=True)
class EndpointWithSecret:
    endpoint: Endpoint
    secret: str  # shown once


def clean_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError({"url": "Give the receiver's URL."})
    url = url.strip()
    if len(url) > 2000:
        raise InvalidInputError({"url": "At most 2000 characters."})
    if error := guard.url_error(url):
        raise InvalidInputError({"url": error})
    return url


def clean_events(events: Any) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise InvalidInputError({"events": f'Give a list of event types, or ["{ALL_EVENTS}"].'})
    unknown = [e for e in events if not isinstance(e, str) or e not in EVENT_CHOICES]
    if unknown:
        raise InvalidInputError({"events": f"Unknown event types: {', '.join(map(str, unknown))}."})
    return sorted(set(events))


def endpoint_create(
    *, tenant: Tenant, url: str, events: Sequence[str], active: bool = True, description: str = ""
) -> EndpointWithSecret:
    """Subscribe a receiver. The secret is returned here and never again."""
    salt = signing.new_salt()
    secret = signing.secret_for(salt)
    url, events = clean_url(url), clean_events(events)
    with transaction.atomic():
        endpoint = Endpoint.objects.create(
            tenant=tenant,
            url=url,
            events=events,
            active=bool(active),
            description=description.strip(),
            secret_salt=salt,
            secret_prefix=secret[:12],
        )
        _audit(endpoint, "create", after=snapshot(endpoint, AUDIT_FIELDS))
    return EndpointWithSecret(endpoint, secret)


def _audit(endpoint: Endpoint, action: str, **changes: Any) -> None:
    audit_record(
        tenant=endpoint.tenant_id,
        action=action,
        object_type="webhook",
        object_id=endpoint.pk,
        object_repr=endpoint.url,
        **changes,
    )


def endpoint_update(*, endpoint: Endpoint, changes: Mapping[str, Any]) -> Endpoint:
    """Change url, events, active or description. Turning a disabled endpoint back on
    clears its failure record (pending deliveries are not resent: redeliver those)."""
    clean: dict[str, Any] = {}
    if "url" in changes:
        clean["url"] = clean_url(changes["url"])
    if "events" in changes:
        clean["events"] = clean_events(changes["events"])
    if "description" in changes:
        clean["description"] = str(changes["description"]).strip()
    with transaction.atomic():
        # The stored row is the "before" (and what "turned back on" is judged against): the
        # admin hands in an instance its form already changed.
        stored = Endpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        was = stored if stored is not None else endpoint
        before = snapshot(was, AUDIT_FIELDS)
        for name, value in clean.items():
            setattr(endpoint, name, value)
        if "active" in changes:
            active = bool(changes["active"])
            if active and not was.active:
                endpoint.disabled_at = None
                endpoint.disabled_reason = ""
                endpoint.failing_since = None
            endpoint.active = active
        endpoint.save()
        _audit(endpoint, "update", before=before, after=snapshot(endpoint, AUDIT_FIELDS))
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    with transaction.atomic():
        _audit(endpoint, "delete", before=snapshot(endpoint, AUDIT_FIELDS))
        endpoint.delete()


def endpoint_rotate_secret(*, endpoint: Endpoint) -> EndpointWithSecret:
    """A new secret, returned once; the previous one keeps signing for 24 h beside it, so a
    receiver can switch without losing a delivery."""
    salt = signing.new_salt()
    secret = signing.secret_for(salt)
    shown = ("secret_prefix", "previous_secret_expires_at")
    with transaction.atomic():
        before = snapshot(endpoint, shown)
        endpoint.previous_secret_salt = endpoint.secret_salt
        endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
        endpoint.secret_salt = salt
        endpoint.secret_prefix = secret[:12]
        endpoint.save(
            update_fields=[
                "previous_secret_salt",
                "previous_secret_expires_at",
                "secret_salt",
                "secret_prefix",
            ]
        )
        _audit(endpoint, "update", before=before, after=snapshot(endpoint, shown))
    return EndpointWithSecret(endpoint, secret)


def signing_secrets(endpoint: Endpoint, *, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, then a rotated-out one
    still in its grace window."""
    now = now or timezone.now()
    found = [signing.secret_for(endpoint.secret_salt)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_salt and expires is not None and expires > now:
        found.append(signing.secret_for(endpoint.previous_secret_salt))
    return found
