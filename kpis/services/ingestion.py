"""Ingestion: events in → raw rows and hourly buckets in one transaction → applied downstream.

The flow, top-down:
1. `events_ingest` validates a batch, resolves (or creates) agents and teams, stamps each
   agent's event with the team the agent was in when it occurred, then in one transaction
   inserts the raw rows (`ON CONFLICT DO NOTHING RETURNING`), folds exactly the inserted rows
   into the buckets, and records an `IngestBatch` (the outbox row).
2. On commit, `kpis.apply_pending` is enqueued; `batches_apply` announces the touched
   (agent, day) and (team, day) keys through `kpis.signals.buckets_changed` — the one hook
   through which `gamify` recomputes points, badges and leaderboards — and marks the batches
   applied. If the broker was down, the sweeper finds the batch and enqueues it again.
3. `event_void` and `buckets_rebuild` keep the buckets equal to a fold of the non-voided raw
   events under the current settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone

from accounts.models import Agent, AgentHistory, Team, Tenant
from core.errors import NotFoundError
from kpis import buckets, metrics
from kpis.catalogue import interaction_settings
from kpis.formulas import InteractionSettings, event_counters
from kpis.models import ImportJob, IngestBatch, Kpi, RawEvent
from kpis.models import InteractionSettings as InteractionSettingsRow
from kpis.schemas import TYPE_CODES, TYPE_NAMES, payload_of, validate_events
from kpis.signals import buckets_changed

log = logging.getLogger(__name__)

CONFLICT_MESSAGE = (
    "An event with this event_id was already accepted with a different body. Send a "
    "correction as a new event and void the old one (POST /events/{event_id}/void)."
)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    batch_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


SLOT_SECONDS = 900
SLOT_LAST = timedelta(seconds=SLOT_SECONDS - 1)


def _local_hour_and_day(instant: datetime, tz: Any) -> tuple[datetime, date]:
    local = instant.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC), local.date()


@dataclass
class _Folded:
    """Bucket rows accumulated from events, ready for `buckets.fold`."""

    agent_hours: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    team_hours: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    agent_metrics: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    team_metrics: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    agent_days: dict[int, set[date]] = field(default_factory=lambda: defaultdict(set))
    team_days: dict[int, set[date]] = field(default_factory=lambda: defaultdict(set))
    # UTC quarter hour → (its local hour, as a UTC instant; its local date): see local_slot.
    slots: dict[int, tuple[datetime, date]] = field(default_factory=dict)

    def local_slot(self, instant: datetime, tz: Any) -> tuple[datetime, date]:
        """The bucket hour and local date of an instant, worked out once per UTC quarter hour.

        Every current time zone's offset is a whole number of quarter hours and changes only
        on a quarter hour, so a UTC quarter hour lies inside one local hour and one local
        date. A quarter hour whose ends disagree on that (a historic local mean time, say)
        is worked out per event.
        """
        slot = int(instant.timestamp() // SLOT_SECONDS)
        known = self.slots.get(slot)
        if known is None:
            known = _local_hour_and_day(instant, tz)
            first = datetime.fromtimestamp(slot * SLOT_SECONDS, UTC)
            ends = [_local_hour_and_day(t, tz) for t in (first, first + SLOT_LAST)]
            if ends[0] != ends[1] or ends[0] != known:
                return known
            self.slots[slot] = known
        return known

    def add(
        self,
        *,
        type_name: str,
        payload: dict[str, Any],
        occurred_at: datetime,
        agent_id: int | None,
        team_id: int | None,
        settings: InteractionSettings,
        tz: Any,
        sign: int = 1,
    ) -> None:
        hour, day = self.local_slot(occurred_at, tz)
        counters = event_counters(type_name, payload, settings)
        changed = [(i, v) for i, v in enumerate(counters) if v]
        metric = None
        if type_name == "metric":
            metric = [
                sign * _e4(payload["value"]),
                sign * _e4(payload.get("count", 1)),
                sign,
            ]
        for subject, hours, metrics_rows, days in (
            (agent_id, self.agent_hours, self.agent_metrics, self.agent_days),
            (team_id, self.team_hours, self.team_metrics, self.team_days),
        ):
            if subject is None:
                continue
            days[subject].add(day)
            row = hours.get((subject, hour))
            if row is None:
                hours[(subject, hour)] = counters if sign == 1 else [-v for v in counters]
                counters = list(counters)  # the next subject gets its own row
            else:
                for i, v in changed:
                    row[i] += sign * v
            if metric is not None:
                key = (subject, payload["kpi"], hour)
                existing = metrics_rows.get(key)
                if existing is None:
                    metrics_rows[key] = list(metric)
                else:
                    for i in range(3):
                        existing[i] += metric[i]

    def by_day(
        self, hours: dict[tuple[Any, ...], list[int]], tz: Any
    ) -> dict[tuple[Any, ...], list[int]]:
        """Hour rows summed per (subject, local date)."""
        days: dict[tuple[Any, ...], list[int]] = {}
        local_date: dict[datetime, date] = {}
        for (subject, hour), counters in hours.items():
            day = local_date.get(hour)
            if day is None:
                day = local_date[hour] = hour.astimezone(tz).date()
            row = days.get((subject, day))
            if row is None:
                days[(subject, day)] = list(counters)
            else:
                for i, v in enumerate(counters):
                    if v:
                        row[i] += v
        return days

    def day_rows(
        self, tz: Any
    ) -> tuple[dict[tuple[Any, ...], list[int]], dict[tuple[Any, ...], list[int]]]:
        return self.by_day(self.agent_hours, tz), self.by_day(self.team_hours, tz)

    def write(self, tenant_id: int, tz: Any) -> None:
        buckets.fold(buckets.AGENT_HOUR, "agent_id", tenant_id=tenant_id, rows=self.agent_hours)
        agent_days, team_days = self.day_rows(tz)
        buckets.fold(
            buckets.AGENT_DAY, "agent_id", tenant_id=tenant_id, rows=agent_days, key_parts=("day",)
        )
        buckets.fold(buckets.TEAM_HOUR, "team_id", tenant_id=tenant_id, rows=self.team_hours)
        buckets.fold(
            buckets.TEAM_DAY, "team_id", tenant_id=tenant_id, rows=team_days, key_parts=("day",)
        )
        for table, key, rows in (
            (buckets.AGENT_METRIC, "agent_id", self.agent_metrics),
            (buckets.TEAM_METRIC, "team_id", self.team_metrics),
        ):
            buckets.fold(
                table,
                key,
                tenant_id=tenant_id,
                rows=rows,
                columns=buckets.METRIC_COLUMNS,
                key_parts=("kpi", "hour"),
            )

    def touched(self) -> dict[str, dict[str, list[str]]]:
        return {
            "agents": {
                str(a): sorted(d.isoformat() for d in days) for a, days in self.agent_days.items()
            },
            "teams": {
                str(t): sorted(d.isoformat() for d in days) for t, days in self.team_days.items()
            },
        }


def _e4(value: float | int) -> int:
    return int(Decimal(str(value)).scaleb(4).to_integral_value(ROUND_HALF_UP))


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


# --- agents and teams named by events --------------------------------------------------------
@dataclass
class _Directory:
    agents: dict[str, int]  # external id → id
    teams: dict[str, int]
    history: dict[int, tuple[list[datetime], list[int | None]]]  # agent id → (froms, teams)

    def team_at(self, agent_id: int, instant: datetime) -> int | None:
        froms, teams = self.history[agent_id]
        # Before the first recorded change, the agent was in its first recorded team.
        return teams[max(0, bisect_right(froms, instant) - 1)]


def _resolve(tenant: Tenant, events: list[Any]) -> tuple[_Directory, dict[int, dict[str, str]]]:
    """Look up (and, when the tenant allows, create) the agents and teams events name.

    Returns the directory and per-event errors for unknown ids when auto-create is off.
    """
    team_ids = {e.team for e in events if e.team is not None}
    agent_ids = {e.agent for e in events if e.agent is not None}
    teams = (
        dict(
            Team.objects.for_tenant(tenant)
            .filter(external_id__in=team_ids)
            .values_list("external_id", "id")
        )
        if team_ids
        else {}
    )
    missing_teams = team_ids - teams.keys()
    if missing_teams and tenant.auto_create_agents:
        Team.objects.bulk_create(
            [Team(tenant=tenant, external_id=x, name=x) for x in sorted(missing_teams)],
            ignore_conflicts=True,
        )
        teams.update(
            Team.objects.for_tenant(tenant)
            .filter(external_id__in=missing_teams)
            .values_list("external_id", "id")
        )
    agents: dict[str, int] = {}
    current_team: dict[int, int | None] = {}
    history: dict[int, tuple[list[datetime], list[int | None]]] = {}

    def load(external_ids: set[str]) -> None:
        for ext, pk, team_id, valid_from, history_team in buckets.agents_with_history(
            tenant_id=tenant.pk, external_ids=external_ids
        ):
            agents[ext], current_team[pk] = pk, team_id
            if valid_from is not None:
                froms, team_list = history.setdefault(pk, ([], []))
                froms.append(valid_from)
                team_list.append(history_team)

    if agent_ids:
        load(agent_ids)
    missing_agents = agent_ids - agents.keys()
    if missing_agents and tenant.auto_create_agents:
        first_team: dict[str, int | None] = {}
        for e in events:
            if e.agent in missing_agents and e.agent not in first_team:
                first_team[e.agent] = teams.get(e.team) if e.team else None
        Agent.objects.bulk_create(
            [
                Agent(tenant=tenant, external_id=x, display_name=x, team_id=first_team[x])
                for x in sorted(missing_agents)
            ],
            ignore_conflicts=True,
        )
        load(missing_agents)
    unrecorded = [pk for pk in agents.values() if pk not in history]
    if unrecorded:
        now = timezone.now()
        AgentHistory.objects.bulk_create(
            [
                AgentHistory(
                    tenant=tenant,
                    agent_id=pk,
                    valid_from=now,
                    team_id=current_team[pk],
                    active=True,
                )
                for pk in unrecorded
            ]
        )
        for pk in unrecorded:
            history[pk] = ([now], [current_team[pk]])
    errors: dict[int, dict[str, str]] = {}
    for position, e in enumerate(events):
        if e.agent is not None and e.agent not in agents:
            errors.setdefault(position, {})["agent"] = f"Unknown agent {e.agent!r}."
        if e.team is not None and e.team not in teams:
            errors.setdefault(position, {})["team"] = f"Unknown team {e.team!r}."
    return _Directory(agents=agents, teams=teams, history=history), errors


def _custom_kpi_codes(tenant: Tenant) -> set[str]:
    return set(Kpi.objects.for_tenant(tenant).filter(custom=True).values_list("code", flat=True))


# --- ingestion ------------------------------------------------------------------------------
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
    valid, rejected = validate_events(items, now=now)
    result = IngestResult(rejected=rejected)

    # Within the batch: the first occurrence of an event_id is the one stored.
    first_hash: dict[str, str] = {}
    candidates: list[tuple[int, Any, str]] = []
    payloads: dict[str, tuple[dict[str, Any], str]] = {}
    for index, event in valid:
        payload = payload_of(event)
        payload_json = compact_json(payload)
        digest = body_hash(event, payload_json)
        seen = first_hash.get(event.event_id)
        if seen is None:
            first_hash[event.event_id] = digest
            payloads[event.event_id] = (payload, payload_json)
            candidates.append((index, event, digest))
        elif seen == digest:
            result.duplicates += 1
        else:
            rejected.append(_conflict(index, event.event_id))
    if any(e.type == "metric" for _, e, _ in candidates):
        codes = _custom_kpi_codes(tenant)
        kept = []
        for index, event, digest in candidates:
            if event.type == "metric" and event.kpi not in codes:
                rejected.append(
                    {
                        "index": index,
                        "event_id": event.event_id,
                        "errors": {
                            "kpi": [f"No custom KPI {event.kpi!r}: create it with POST /kpis."]
                        },
                    }
                )
            else:
                kept.append((index, event, digest))
        candidates = kept
    if not candidates:
        _finish(result, source)
        return result

    # Under the tenant's ingest lock, shared: a change of an agent's team waits for this
    # batch, or this batch for it, so events are stamped with a history that holds.
    with transaction.atomic():
        buckets.advisory_lock(buckets.INGEST_LOCK, tenant.pk, shared=True)
        directory, unknown = _resolve(tenant, [e for _, e, _ in candidates])
        settings = interaction_settings(tenant)
        tz = tenant.tz
        rows: list[tuple[str, int, datetime, int | None, int | None, str, str]] = []
        prepared: dict[str, tuple[int, Any, str, int | None, int | None]] = {}
        for position, (index, event, digest) in enumerate(candidates):
            if position in unknown:
                rejected.append(
                    {
                        "index": index,
                        "event_id": event.event_id,
                        "errors": {k: [v] for k, v in unknown[position].items()},
                    }
                )
                continue
            agent_id = directory.agents[event.agent] if event.agent is not None else None
            if event.team is not None:
                team_id: int | None = directory.teams[event.team]
            elif agent_id is not None:
                team_id = directory.team_at(agent_id, event.occurred_at)
            else:
                team_id = None
            prepared[event.event_id] = (index, event, digest, agent_id, team_id)
            rows.append(
                (
                    event.event_id,
                    TYPE_CODES[event.type],
                    event.occurred_at,
                    agent_id,
                    team_id,
                    payloads[event.event_id][1],
                    digest,
                )
            )

        if rows:
            batch = IngestBatch.objects.create(tenant=tenant, source=source, created_at=now)
            inserted = buckets.insert_raw_events(
                tenant_id=tenant.pk, batch_id=batch.pk, received_at=now, rows=rows
            )
            not_inserted = prepared.keys() - inserted
            if not_inserted:
                stored = dict(
                    RawEvent.objects.for_tenant(tenant)
                    .filter(event_id__in=not_inserted)
                    .values_list("event_id", "body_hash")
                )
                for event_id in not_inserted:
                    index, _, digest, _, _ = prepared[event_id]
                    if stored.get(event_id) == digest:
                        result.duplicates += 1
                    else:
                        rejected.append(_conflict(index, event_id))
            folded = _Folded()
            for event_id in inserted:
                _, event, _, agent_id, team_id = prepared[event_id]
                folded.add(
                    type_name=event.type,
                    payload=payloads[event_id][0],
                    occurred_at=event.occurred_at,
                    agent_id=agent_id,
                    team_id=team_id,
                    settings=settings,
                    tz=tz,
                )
            folded.write(tenant.pk, tz)
            result.accepted = len(inserted)
            if inserted:
                IngestBatch.objects.filter(pk=batch.pk).update(
                    accepted=len(inserted), touched=folded.touched()
                )
                result.batch_id = batch.pk
                enqueue_apply(tenant.pk)
            else:
                batch.delete()
    rejected.sort(key=lambda r: r["index"])
    _finish(result, source)
    return result


def _conflict(index: int, event_id: str) -> dict[str, Any]:
    return {"index": index, "event_id": event_id, "errors": {"event_id": [CONFLICT_MESSAGE]}}


def _finish(result: IngestResult, source: str) -> None:
    metrics.EVENTS.labels("accepted", source).inc(result.accepted)
    metrics.EVENTS.labels("duplicate", source).inc(result.duplicates)
    metrics.EVENTS.labels("rejected", source).inc(len(result.rejected))


def enqueue_apply(tenant_id: int) -> None:
    """Enqueue downstream application once the transaction commits.

    `robust`: the events are stored whatever happens to the broker; if it is down the request
    still succeeds and the sweeper enqueues the batch later.
    """
    from kpis.tasks import apply_pending

    def send() -> None:
        try:
            apply_pending.delay(tenant_id)
        except Exception:
            metrics.ENQUEUE_FAILURES.inc()
            log.warning("Could not enqueue apply_pending(%s); the sweeper will", tenant_id)

    transaction.on_commit(send, robust=True)


# --- voids ----------------------------------------------------------------------------------
def event_void(*, tenant: Tenant, event_id: str) -> RawEvent:
    """Retract an event: its contribution leaves the buckets, and downstream recomputes.

    Voiding twice is harmless: the second call returns the already voided event.
    """
    with transaction.atomic():
        buckets.advisory_lock(buckets.INGEST_LOCK, tenant.pk, shared=True)
        event = (
            RawEvent.objects.for_tenant(tenant)
            .select_for_update()
            .filter(event_id=event_id)
            .first()
        )
        if event is None:
            raise NotFoundError(f"No event with event_id {event_id!r}.")
        if event.voided_at is not None:
            return event
        now = timezone.now()
        event.voided_at = now
        event.save(update_fields=["voided_at"])
        folded = _Folded()
        folded.add(
            type_name=TYPE_NAMES[event.type],
            payload=event.payload,
            occurred_at=event.occurred_at,
            agent_id=event.agent_id,
            team_id=event.team_id,
            settings=interaction_settings(tenant),
            tz=tenant.tz,
            sign=-1,
        )
        folded.write(tenant.pk, tenant.tz)
        agent_days, team_days = folded.day_rows(tenant.tz)
        for table, key, rows, parts in (
            (buckets.AGENT_HOUR, "agent_id", folded.agent_hours, ("hour",)),
            (buckets.TEAM_HOUR, "team_id", folded.team_hours, ("hour",)),
            (buckets.AGENT_DAY, "agent_id", agent_days, ("day",)),
            (buckets.TEAM_DAY, "team_id", team_days, ("day",)),
            (buckets.AGENT_METRIC, "agent_id", folded.agent_metrics, ("kpi", "hour")),
            (buckets.TEAM_METRIC, "team_id", folded.team_metrics, ("kpi", "hour")),
        ):
            buckets.drop_empty(table, key, tenant_id=tenant.pk, keys=rows.keys(), key_parts=parts)
        IngestBatch.objects.create(
            tenant=tenant,
            source=IngestBatch.Source.VOID,
            created_at=now,
            accepted=1,  # the voided event is pending until downstream recomputed
            touched=folded.touched(),
        )
        failed_batches_retry(tenant=tenant)  # a void is how a bad event is fixed
        enqueue_apply(tenant.pk)
        return event


# --- rebuild --------------------------------------------------------------------------------
@dataclass
class RebuildSummary:
    tenant: str
    events: int = 0
    agent_hours: int = 0
    team_hours: int = 0


FLUSH_EVERY = 50_000


def buckets_rebuild(
    *, tenant: Tenant, progress: Callable[[int, int], None] | None = None
) -> RebuildSummary:
    """Recompute every bucket of the tenant from its non-voided raw events.

    Ingestion waits on the tenant's lock meanwhile (it holds it shared), so the result is a
    consistent fold even while events keep arriving; readers see the old buckets until commit.
    """
    summary = RebuildSummary(tenant=tenant.slug)
    with transaction.atomic():
        buckets.advisory_lock(buckets.INGEST_LOCK, tenant.pk)
        # Settings read below are the ones this recompute applies: any request for it is met.
        InteractionSettingsRow.objects.filter(tenant=tenant).update(recompute_requested_at=None)
        settings = interaction_settings(tenant)
        total = RawEvent.objects.for_tenant(tenant).filter(voided_at__isnull=True).count()
        buckets.delete_tenant_buckets(tenant.pk)
        folded = _Folded()
        rows = (
            RawEvent.objects.for_tenant(tenant)
            .filter(voided_at__isnull=True)
            .order_by("id")
            .values_list("type", "payload", "occurred_at", "agent_id", "team_id")
        )
        for type_code, payload, occurred_at, agent_id, team_id in rows.iterator(chunk_size=5000):
            folded.add(
                type_name=TYPE_NAMES[type_code],
                payload=payload,
                occurred_at=occurred_at,
                agent_id=agent_id,
                team_id=team_id,
                settings=settings,
                tz=tenant.tz,
            )
            summary.events += 1
            if summary.events % FLUSH_EVERY == 0:
                _flush(folded, tenant.pk, summary, tenant.tz)
                folded = _Folded()
                if progress:
                    progress(summary.events, total)
        _flush(folded, tenant.pk, summary, tenant.tz)
        if progress:
            progress(summary.events, total)
        IngestBatch.objects.create(
            tenant=tenant,
            source=IngestBatch.Source.RECOMPUTE,
            created_at=timezone.now(),
            everything=True,
        )
        failed_batches_retry(tenant=tenant)
        enqueue_apply(tenant.pk)
    return summary


def _flush(folded: _Folded, tenant_id: int, summary: RebuildSummary, tz: Any) -> None:
    folded.write(tenant_id, tz)
    summary.agent_hours += len(folded.agent_hours)
    summary.team_hours += len(folded.team_hours)


# --- downstream -----------------------------------------------------------------------------
APPLY_CHUNK = 200
RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
# Errors of the infrastructure, not of a batch: the whole run fails and is tried again (the
# task acks late; the sweeper re-enqueues), and no batch is blamed for them.
NOT_THE_BATCH: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    SoftTimeLimitExceeded,
)


@dataclass(frozen=True)
class PendingBatch:
    id: int
    touched: dict[str, dict[str, list[str]]]
    everything: bool
    attempts: int


def changes_announce(
    *,
    tenant: Tenant,
    agent_days: Mapping[int, Iterable[date]] | None = None,
    everything: bool = False,
) -> None:
    """Have everything derived from the buckets follow a change that brought no events.

    A point rule, a badge or a KPI's minimum volume changed (`everything`), or a manual
    adjustment or an agent's move changed some agents' days: the change is written to the
    outbox in the caller's transaction, so it reaches points, live boards and running contests
    by the one path events take, under the apply lock, and is never lost.
    """
    touched = {
        "agents": {
            str(agent): sorted({d.isoformat() for d in days})
            for agent, days in (agent_days or {}).items()
        },
        "teams": {},
    }
    IngestBatch.objects.create(
        tenant=tenant,
        source=IngestBatch.Source.CHANGE,
        created_at=timezone.now(),
        touched=touched,
        everything=everything,
    )
    enqueue_apply(tenant.pk)


def batches_apply(*, tenant_id: int) -> str:
    """Announce what pending batches touched, then mark them applied. Idempotent.

    One run per tenant at a time (advisory lock); a run takes every pending batch, so under
    load many batches are applied by one run and the tasks queued behind it find nothing.
    A batch that cannot be applied is found by halving the group that failed, set aside with
    its error and retried later: it never holds back the batches behind it.
    """
    applied = failed = 0
    while True:
        with transaction.atomic():
            buckets.advisory_lock(buckets.APPLY_LOCK, tenant_id)
            now = timezone.now()
            batches = [
                PendingBatch(*row)
                for row in IngestBatch.objects.for_tenant(tenant_id)
                .filter(applied_at__isnull=True)
                .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
                .order_by("id")
                .values_list("id", "touched", "everything", "attempts")[:APPLY_CHUNK]
            ]
            if not batches:
                break
            tenant = Tenant.objects.filter(pk=tenant_id).first()
            if tenant is None:
                return "gone"
            for group in _groups(batches):
                failures = _apply_isolated(tenant, group, now)
                applied += len(group) - len(failures)
                failed += len(failures)
                for batch, exc in failures:
                    _set_aside(tenant, batch, exc, now)
    outcome = f"applied {applied} batches" if applied else "nothing pending"
    return f"{outcome}, {failed} failed" if failed else outcome


def _groups(batches: list[PendingBatch]) -> Iterator[list[PendingBatch]]:
    """Runs of consecutive batches applied together; a recompute of everything goes alone, so
    that the events before and after it are still judged as events (late adjustments)."""
    run: list[PendingBatch] = []
    for batch in batches:
        if batch.everything:
            if run:
                yield run
                run = []
            yield [batch]
        else:
            run.append(batch)
    if run:
        yield run


def _apply_isolated(
    tenant: Tenant, group: list[PendingBatch], now: datetime
) -> list[tuple[PendingBatch, Exception]]:
    """Apply a group in a savepoint; when it fails, each half on its own, down to the batches
    that fail alone (returned with their errors)."""
    try:
        with transaction.atomic():
            _announce(tenant, group)
            done = IngestBatch.objects.filter(pk__any=[b.id for b in group])
            if any(b.everything for b in group):
                # Everything was recomputed: batches set aside before it are settled too.
                done = IngestBatch.objects.for_tenant(tenant).filter(
                    Q(pk__any=[b.id for b in group])
                    | Q(pk__lt=group[-1].id, applied_at__isnull=True, failed_at__isnull=False)
                )
            done.update(applied_at=now, retry_at=None)
        return []
    except NOT_THE_BATCH:
        raise
    except Exception as exc:
        if len(group) == 1:
            return [(group[0], exc)]
        middle = len(group) // 2
        return _apply_isolated(tenant, group[:middle], now) + _apply_isolated(
            tenant, group[middle:], now
        )


def _announce(tenant: Tenant, group: list[PendingBatch]) -> None:
    agent_days: dict[int, set[date]] = defaultdict(set)
    team_days: dict[int, set[date]] = defaultdict(set)
    for batch in group:
        for target, key in ((agent_days, "agents"), (team_days, "teams")):
            for subject, days in (batch.touched or {}).get(key, {}).items():
                target[int(subject)].update(date.fromisoformat(d) for d in days)
    buckets_changed.send(
        sender=IngestBatch,
        tenant=tenant,
        agent_days=dict(agent_days),
        team_days=dict(team_days),
        everything=any(b.everything for b in group),
    )


def _set_aside(tenant: Tenant, batch: PendingBatch, exc: Exception, now: datetime) -> None:
    attempts = batch.attempts + 1
    wait = min(RETRY_FIRST * 2 ** min(attempts - 1, 20), RETRY_MAX)
    log.error(
        "Batch %s of tenant %s could not be applied (attempt %s); retrying from %s",
        batch.id, tenant.slug, attempts, now + wait, exc_info=exc,
    )  # fmt: skip
    metrics.APPLY_FAILURES.inc()
    IngestBatch.objects.filter(pk=batch.id).update(
        failed_at=now,
        attempts=attempts,
        error=f"{type(exc).__name__}: {exc}"[:ERROR_CHARS],
        retry_at=now + wait,
    )


ERROR_CHARS = 500


def failed_batches_retry(*, tenant: Tenant) -> int:
    """Try the tenant's set-aside batches again at the next run (after a fix: a void, a
    rebuild). Returns how many."""
    return (
        IngestBatch.objects.for_tenant(tenant)
        .filter(applied_at__isnull=True, failed_at__isnull=False)
        .update(retry_at=timezone.now())
    )


def ingest_status(*, tenant: Tenant) -> dict[str, Any]:
    """What is not yet reflected downstream: events pending, a recompute owed, and batches set
    aside after failing (with their errors)."""
    unapplied = IngestBatch.objects.for_tenant(tenant).filter(applied_at__isnull=True)
    pending = unapplied.filter(failed_at__isnull=True).aggregate(
        events=Sum("accepted"), oldest=Min("created_at")
    )
    failed = list(
        unapplied.filter(failed_at__isnull=False)
        .order_by("-id")
        .values("id", "accepted", "failed_at", "attempts", "retry_at", "error")[:FAILED_SHOWN]
    )
    recomputing = (
        unapplied.filter(failed_at__isnull=True, everything=True).exists()
        or InteractionSettingsRow.objects.filter(
            tenant=tenant, recompute_requested_at__isnull=False
        ).exists()
    )
    return {
        "pending": pending["events"] or 0,
        "oldest_pending_at": pending["oldest"],
        "recomputing": recomputing,
        "failed": unapplied.filter(failed_at__isnull=False).aggregate(n=Sum("accepted"))["n"] or 0,
        "failed_batches": [
            {
                "id": row["id"],
                "events": row["accepted"],
                "failed_at": row["failed_at"],
                "attempts": row["attempts"],
                "retry_at": row["retry_at"],
                "error": row["error"],
            }
            for row in failed
        ],
    }


FAILED_SHOWN = 20


STALLED_AFTER = timedelta(minutes=1)


def stalled_work(*, now: datetime | None = None) -> dict[str, list[int]]:
    """What a lost task left undone: batches not applied, settings recomputes not done,
    imports not progressing. The sweeper enqueues each again (their tasks are idempotent)."""
    now = now or timezone.now()
    settings_cutoff = now - timedelta(seconds=settings.SWEEP_AFTER_SECONDS)
    return {
        "apply": tenants_with_stale_batches(),
        "recompute": sorted(
            InteractionSettingsRow.objects.filter(
                recompute_requested_at__lt=settings_cutoff
            ).values_list("tenant_id", flat=True)
        ),
        "import": sorted(
            ImportJob.objects.filter(
                status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING],
                updated_at__lt=now - STALLED_AFTER,
            ).values_list("id", flat=True)
        ),
    }


def tenants_with_stale_batches(*, older_than_seconds: int | None = None) -> list[int]:
    """Tenants with batches stored a while ago and still unapplied, or set aside and due to be
    tried again."""
    if older_than_seconds is None:
        older_than_seconds = settings.SWEEP_AFTER_SECONDS
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    return sorted(
        set(
            IngestBatch.objects.filter(applied_at__isnull=True, created_at__lt=cutoff)
            .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
            .values_list("tenant_id", flat=True)
        )
    )
