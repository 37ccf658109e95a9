"""`Idempotency-Key` for POSTs that move money-like things (API.md, Conventions).

* the first request with a key runs and its answer is stored (status, body, headers);
* a repeat with the same key and the same body gets that stored answer again;
* the same key with another body (or on another endpoint) is a 409;
* a repeat arriving while the first still runs is a 409 with `Retry-After`, so the operation
  runs once however many copies race;
* answers that say "try again" (409, 429, 5xx) are not stored, so a retry runs for real;
* keys are scoped to the tenant and the credential and kept `IDEMPOTENCY_KEY_TTL` (24 h).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from accounts.models import IdempotencyRecord
from core.api.problems import Problem
from core.errors import ApplicationError, InvalidInputError

HEADER = "HTTP_IDEMPOTENCY_KEY"
# A request that has held its key this long without finishing died with its process.
ABANDONED_AFTER = timedelta(minutes=5)
NOT_STORED = {409, 429}
REPLAYED_HEADERS = ("Location",)


class IdempotencyKeyReused(Problem):
    status_code = 409
    slug = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


class IdempotencyKeyInProgress(Problem):
    status_code = 409
    slug = "idempotency-key-in-progress"
    title = "A request with this idempotency key is still being processed"


def fingerprint(request: Request) -> str:
    body = request._request.body
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _claim(
    *, tenant_id: int, credential: str, key: str, print_: str
) -> tuple[IdempotencyRecord, bool]:
    now = timezone.now()
    for _ in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    tenant_id=tenant_id,
                    credential=credential,
                    key=key,
                    fingerprint=print_,
                    created_at=now,
                )
            return record, True
        except IntegrityError:
            existing = (
                IdempotencyRecord.objects.for_tenant(tenant_id)
                .filter(credential=credential, key=key)
                .first()
            )
            if existing is None:
                continue  # purged meanwhile: claim again
            expired = existing.created_at < now - settings.IDEMPOTENCY_KEY_TTL
            abandoned = existing.status_code is None and existing.created_at < now - ABANDONED_AFTER
            if expired or abandoned:
                IdempotencyRecord.objects.filter(
                    pk=existing.pk, created_at=existing.created_at
                ).delete()
                continue
            return existing, False
    raise IdempotencyKeyInProgress("Could not claim the idempotency key; retry.")


# What the OpenAPI schema says of every operation that honours the header. Replayed answers
# are the stored ones: any status but those in NOT_STORED, 5xx, and the 401/403/429 that are
# answered before the view runs.
KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255},
    location=OpenApiParameter.HEADER,
    description=(
        "1–255 printable characters, kept 24 h per tenant and credential: a repeat with the "
        "same key and body replays the first answer; the same key with another body is a 409."
    ),
)
REPLAYED_HEADER = OpenApiParameter(
    "Idempotent-Replayed",
    {"type": "string", "enum": ["true"]},
    location=OpenApiParameter.HEADER,
    response=[200, 201, 400, 404, 415],
    description="Present (true) when this is the stored answer to an earlier request",
)


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate an APIView's `post` to honour the Idempotency-Key header (and document it)."""

    @extend_schema(parameters=[KEY_PARAMETER, REPLAYED_HEADER])
    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.META.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise InvalidInputError({"Idempotency-Key": "Must be 1 to 255 printable characters."})
        principal: Any = request.user
        print_ = fingerprint(request)
        record, created = _claim(
            tenant_id=principal.tenant.pk,
            credential=principal.credential,
            key=key,
            print_=print_,
        )
        if not created:
            if record.fingerprint != print_:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used for a different request.",
                    errors={"Idempotency-Key": ["Already used with another body or endpoint."]},
                )
            if record.status_code is None:
                raise IdempotencyKeyInProgress(
                    "The first request with this key is still running.",
                    headers={"Retry-After": "1"},
                )
            return _replay(record)

        try:
            response = view_method(self, request, *args, **kwargs)
        except (APIException, ApplicationError) as exc:
            response = self.handle_exception(exc)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code in NOT_STORED or response.status_code >= 500:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        headers = {h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)}
        if response.content_type:
            headers["Content-Type"] = response.content_type
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code,
            response_body=json.dumps(response.data, cls=JSONEncoder).encode(),
            response_headers=headers,
        )
        return response

    return wrapper


def _replay(record: IdempotencyRecord) -> Response:
    headers = dict(record.response_headers)
    content_type = headers.pop("Content-Type", None)
    data = json.loads(bytes(record.response_body)) if record.response_body else None
    response = Response(data, status=record.status_code, headers=headers, content_type=content_type)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotency_keys_purge(*, older_than: timedelta | None = None) -> int:
    """Delete keys past their lifetime; returns how many."""
    cutoff = timezone.now() - (older_than or settings.IDEMPOTENCY_KEY_TTL)
    deleted, _ = IdempotencyRecord.objects.unscoped().filter(created_at__lt=cutoff).delete()  # beat
    return deleted
