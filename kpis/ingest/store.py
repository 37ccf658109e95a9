"""`events_ingest`: a screened batch stored and folded in one transaction.

Under the tenant's ingest lock (shared), the batch's agents and teams are resolved, each event
is stamped with its agent's team at the time, the raw rows are inserted (`ON CONFLICT DO
NOTHING RETURNING`), exactly the inserted rows are folded into the buckets, and an
`IngestBatch` (the outbox row) records what they touched; on commit, downstream application
is enqueued (kpis/ingest/apply.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from kpis import buckets, metrics
from kpis.catalogue import interaction_settings
from kpis.ingest.apply import enqueue_apply
from kpis.ingest.fold import Folded
from kpis.ingest.resolve import Directory, resolve
from kpis.ingest.validate import Candidate, conflict, rejection, screen
from kpis.models import IngestBatch, RawEvent
from kpis.schemas import TYPE_CODES


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    batch_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


class Stamped(NamedTuple):
    """A candidate with the ids of its agent and of the team it counts for."""

    candidate: Candidate
    agent_id: int | None
    team_id: int | None


class RawRow(NamedTuple):
    """One raw event as `buckets.insert_raw_events` stores it."""

    event_id: str
    type: int
    occurred_at: datetime
    agent_id: int | None
    team_id: int | None
    payload_json: str
    body_hash: str


def events_ingest(
    *,
    tenant: Tenant,
    items: list[Any],
    source: str = IngestBatch.Source.API,
    now: datetime | None = None,
) -> IngestResult:
    """Store a batch of events idempotently and fold the new ones into the buckets.

    Valid items are stored even when others are rejected. A repeated `event_id` with the same
    body is a duplicate; with another body, a rejection.
    """
    now = now or timezone.now()
    screened = screen(tenant=tenant, items=items, now=now)
    # The parsed items are not read again: when the caller passed its only reference (the
    # API does), a batch's 1000 dicts go now rather than when the response has gone.
    del items
    result = IngestResult(duplicates=screened.duplicates, rejected=screened.rejected)
    if screened.candidates:
        # Under the tenant's ingest lock, shared: a change of an agent's team waits for this
        # batch, or this batch for it, so events are stamped with a history that holds.
        with transaction.atomic():
            buckets.advisory_lock(buckets.INGEST_LOCK, tenant.pk, shared=True)
            stamped = _stamp(tenant, screened.candidates, result.rejected)
            if stamped:
                _store(tenant, stamped, result, source=source, now=now)
        result.rejected.sort(key=lambda r: r["index"])
    _count(result, source)
    return result


def _stamp(
    tenant: Tenant, candidates: list[Candidate], rejected: list[dict[str, Any]]
) -> dict[str, Stamped]:
    """Candidates by event id with their agent's and team's ids; those naming an unknown agent
    or team (auto-create off) are rejected."""
    directory, unknown = resolve(tenant, candidates)
    stamped: dict[str, Stamped] = {}
    for position, candidate in enumerate(candidates):
        if position in unknown:
            errors = {k: [v] for k, v in unknown[position].items()}
            rejected.append(rejection(candidate.item_index, candidate.event_id, errors))
            continue
        agent_id = directory.agents[candidate.agent] if candidate.agent is not None else None
        team_id = _team_of(directory, candidate, agent_id)
        stamped[candidate.event_id] = Stamped(candidate, agent_id, team_id)
    return stamped


def _team_of(directory: Directory, event: Candidate, agent_id: int | None) -> int | None:
    """The team an event counts for: the one it names, else its agent's at the time."""
    if event.team is not None:
        return directory.teams[event.team]
    if agent_id is not None:
        return directory.team_at(agent_id, event.occurred_at)
    return None


def _store(
    tenant: Tenant, stamped: dict[str, Stamped], result: IngestResult, *, source: str, now: datetime
) -> None:
    """Insert the raw rows, sort out the ones that already existed, fold the new ones and
    record the batch (or drop it when nothing was new)."""
    batch = IngestBatch.objects.create(tenant=tenant, source=source, created_at=now)
    rows = [
        RawRow(
            event_id,
            TYPE_CODES[s.candidate.type],
            s.candidate.occurred_at,
            s.agent_id,
            s.team_id,
            s.candidate.payload_json,
            s.candidate.digest,
        )
        for event_id, s in stamped.items()
    ]
    inserted = buckets.insert_raw_events(
        tenant_id=tenant.pk, batch_id=batch.pk, received_at=now, rows=rows
    )
    not_inserted = stamped.keys() - inserted
    if not_inserted:
        stored = dict(
            RawEvent.objects.for_tenant(tenant)
            .filter(event_id__in=not_inserted)
            .values_list("event_id", "body_hash")
        )
        for event_id in not_inserted:
            candidate = stamped[event_id].candidate
            if stored.get(event_id) == candidate.digest:
                result.duplicates += 1
            else:
                result.rejected.append(conflict(candidate.item_index, event_id))
    settings = interaction_settings(tenant)
    tz = tenant.tz
    folded = Folded()
    for event_id in inserted:
        candidate, agent_id, team_id = stamped[event_id]
        folded.add(
            type_name=candidate.type,
            payload=candidate.payload,
            occurred_at=candidate.occurred_at,
            agent_id=agent_id,
            team_id=team_id,
            settings=settings,
            tz=tz,
        )
    folded.write(tenant.pk, tz)
    result.accepted = len(inserted)
    if inserted:
        IngestBatch.objects.filter(tenant_id=tenant.pk, pk=batch.pk).update(
            accepted=len(inserted), touched=folded.touched()
        )
        result.batch_id = batch.pk
        enqueue_apply(tenant.pk)
    else:
        batch.delete()


def _count(result: IngestResult, source: str) -> None:
    metrics.EVENTS.labels("accepted", source).inc(result.accepted)
    metrics.EVENTS.labels("duplicate", source).inc(result.duplicates)
    metrics.EVENTS.labels("rejected", source).inc(len(result.rejected))
