"""Ingestion: events in → raw rows and hourly buckets in one transaction → applied downstream.

The flow, top-down, one module per step:
1. `validate.screen` checks a batch (schema, body hash, first occurrence of an event id,
   custom KPIs that exist);
2. `store.events_ingest`, under the tenant's ingest lock, `resolve`s (or creates) the agents
   and teams it names, stamps each agent's event with the team the agent was in when it
   occurred, inserts the raw rows (`ON CONFLICT DO NOTHING RETURNING`), `fold`s exactly the
   inserted rows into the buckets and records an `IngestBatch` (the outbox row);
3. on commit, `kpis.apply_pending` runs `apply.batches_apply`: it announces the touched
   (agent, day) and (team, day) keys through `kpis.signals.buckets_changed` — the one hook
   through which `gamify` recomputes points, badges and leaderboards — and marks the batches
   applied. If the broker was down, `sweep` finds the batch and it is enqueued again;
4. `void.event_void` and `rebuild.buckets_rebuild` keep the buckets equal to a fold of the
   non-voided raw events under the current settings.

The names below are the package's API; the modules' other names are its inner workings.
"""

from kpis.ingest.apply import (
    APPLY_RUN_SECONDS,
    PendingBatch,
    apply_started,
    batches_apply,
    changes_announce,
    enqueue_apply,
    failed_batches_retry,
    ingest_status,
)
from kpis.ingest.rebuild import RebuildSummary, buckets_rebuild
from kpis.ingest.store import IngestResult, events_ingest
from kpis.ingest.sweep import stalled_work, tenants_with_stale_batches
from kpis.ingest.validate import CONFLICT_MESSAGE, body_hash, compact_json
from kpis.ingest.void import event_void

__all__ = [
    "APPLY_RUN_SECONDS",
    "CONFLICT_MESSAGE",
    "IngestResult",
    "PendingBatch",
    "RebuildSummary",
    "apply_started",
    "batches_apply",
    "body_hash",
    "buckets_rebuild",
    "changes_announce",
    "compact_json",
    "enqueue_apply",
    "event_void",
    "events_ingest",
    "failed_batches_retry",
    "ingest_status",
    "stalled_work",
    "tenants_with_stale_batches",
]
