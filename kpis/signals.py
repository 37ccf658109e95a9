"""The one narrow hook from `kpis` to what depends on it (DESIGN.md §2).

`buckets_changed` is sent by `kpis.services.ingest.batches_apply`, inside its transaction
and once at a time per tenant, after buckets changed for:
* `agent_days`: {agent id: {local dates}} and `team_days`: {team id: {local dates}};
* `everything=True` when a rebuild or a settings change recomputed all of the tenant's buckets.

Receivers (gamify) recompute what they derive from those buckets. They must be idempotent: a
retried task sends the same keys again.
"""

from django.dispatch import Signal

buckets_changed = Signal()
