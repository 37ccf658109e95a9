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
    """A valid event, first of its id in the batch, not yet known to be new: its envelope and
    payload, without the validated model (a batch of 1000 models is 1.3 MB a request holds
    to its end; these fields are all the storing and folding read)."""

    item_index: int  # its index in the batch (rejections name it)
    event_id: str
    type: str
    occurred_at: datetime
    agent: str | None
    team: str | None
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


# Events validated at a time: the models of one slice live only until its candidates are
# made, so a batch's memory is its candidates', not also 1000 models' (one call per slice
# costs nothing measurable beside validating the events themselves).
SLICE = 100


def screen(*, tenant: Tenant, items: list[Any], now: datetime) -> Screened:
    """Validate a batch; within it, the first occurrence of an event_id is the one kept (a
    repeat with the same body is a duplicate, with another body a conflict)."""
    screened = Screened(candidates=[])
    rejected = screened.rejected
    first_hash: dict[str, str] = {}
    for start in range(0, len(items), SLICE):
        valid, slice_rejected = validate_events(items[start : start + SLICE], now=now)
        for item in slice_rejected:
            item["index"] += start
        rejected += slice_rejected
        for position, event in valid:
            index = start + position
            payload = payload_of(event)
            payload_json = compact_json(payload)
            digest = body_hash(event, payload_json)
            seen = first_hash.get(event.event_id)
            if seen is None:
                first_hash[event.event_id] = digest
                candidate = Candidate(
                    index, event.event_id, event.type, event.occurred_at, event.agent,
                    event.team, digest, payload, payload_json,
                )  # fmt: skip
                screened.candidates.append(candidate)
            elif seen == digest:
                screened.duplicates += 1
            else:
                rejected.append(conflict(index, event.event_id))
        del valid  # this slice's models go now, not with the next slice's
    if any(c.type == "metric" for c in screened.candidates):
        codes = custom_kpi_codes(tenant)
        kept = []
        for candidate in screened.candidates:
            kpi = candidate.payload.get("kpi") if candidate.type == "metric" else None
            if kpi is not None and kpi not in codes:
                message = f"No custom KPI {kpi!r}: create it with POST /kpis."
                errors = {"kpi": [message]}
                rejected.append(rejection(candidate.item_index, candidate.event_id, errors))
            else:
                kept.append(candidate)
        screened.candidates = kept
    rejected.sort(key=lambda r: r["index"])
    return screened


def custom_kpi_codes(tenant: Tenant) -> set[str]:
    return set(Kpi.objects.for_tenant(tenant).filter(custom=True).values_list("code", flat=True))
