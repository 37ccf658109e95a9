"""Screening a batch before anything is stored: the schema (kpis/schemas.py), the body hash
that tells a duplicate from a conflict, the first occurrence of an event id within the batch,
and metric events naming a custom KPI that exists."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from accounts.models import Tenant
from kpis.models import Kpi
from kpis.schemas import payload_of, validate_events

CONFLICT_MESSAGE = (
    "An event with this event_id was already accepted with a different body. Send a "
    "correction as a new event and void the old one (POST /events/{event_id}/void)."
)


def _compact_encoder() -> Callable[[Any], str]:
    """`json.dumps(value, separators=(",", ":"))`, twice as fast on the ingest hot path.

    `json.dumps` builds a new encoder for every call; this builds the C encoder once (without
    the circular-reference check: payloads are flat). The text must stay exactly what
    `json.dumps` gives: body hashes of stored events are taken over it.
    """
    encoder = json.JSONEncoder(separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python built without the C accelerator
        return encoder.encode
    chunks = make(None, encoder.default, json.encoder.encode_basestring_ascii, None, ":", ",",
                  False, False, True)  # fmt: skip

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


compact_json = _compact_encoder()


def body_hash(event: Any, payload_json: str) -> str:
    """A fingerprint of what the event says (the same instant in any offset hashes alike)."""
    envelope = "\x1f".join(
        (
            event.event_id,
            event.type,
            event.occurred_at.astimezone(UTC).isoformat(),
            event.agent or "",
            event.team or "",
            payload_json,
        )
    )
    return hashlib.sha256(envelope.encode()).hexdigest()[:32]


class Candidate(NamedTuple):
    """A valid event, first of its id in the batch, not yet known to be new."""

    item_index: int  # its index in the batch (rejections name it)
    event: Any  # the validated event (kpis.schemas)
    digest: str  # body_hash
    payload: dict[str, Any]
    payload_json: str  # compact_json(payload): what is stored and hashed


@dataclass
class Screened:
    candidates: list[Candidate]
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def conflict(index: int, event_id: str) -> dict[str, Any]:
    return {"index": index, "event_id": event_id, "errors": {"event_id": [CONFLICT_MESSAGE]}}


def rejection(index: int, event_id: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"index": index, "event_id": event_id, "errors": errors}


def screen(*, tenant: Tenant, items: list[Any], now: datetime) -> Screened:
    """Validate a batch; within it, the first occurrence of an event_id is the one kept (a
    repeat with the same body is a duplicate, with another body a conflict)."""
    valid, rejected = validate_events(items, now=now)
    screened = Screened(candidates=[], rejected=rejected)
    first_hash: dict[str, str] = {}
    for index, event in valid:
        payload = payload_of(event)
        payload_json = compact_json(payload)
        digest = body_hash(event, payload_json)
        seen = first_hash.get(event.event_id)
        if seen is None:
            first_hash[event.event_id] = digest
            screened.candidates.append(Candidate(index, event, digest, payload, payload_json))
        elif seen == digest:
            screened.duplicates += 1
        else:
            rejected.append(conflict(index, event.event_id))
    if any(c.event.type == "metric" for c in screened.candidates):
        codes = custom_kpi_codes(tenant)
        kept = []
        for candidate in screened.candidates:
            event = candidate.event
            if event.type == "metric" and event.kpi not in codes:
                message = f"No custom KPI {event.kpi!r}: create it with POST /kpis."
                rejected.append(rejection(candidate.item_index, event.event_id, {"kpi": [message]}))
            else:
                kept.append(candidate)
        screened.candidates = kept
    return screened


def custom_kpi_codes(tenant: Tenant) -> set[str]:
    return set(Kpi.objects.for_tenant(tenant).filter(custom=True).values_list("code", flat=True))
