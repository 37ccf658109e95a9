"""Transaction-scoped advisory locks per tenant (PostgreSQL; SQLite serialises writers anyway).

* `INGEST_LOCK`: ingestion holds it shared while it stamps events with the agents' teams and
  stores them; a rebuild holds it exclusively, and so does a change of an agent's team or
  activity, so that an event is stamped either before the change commits or after it, never
  with a view of the agent's history that the change is about to make wrong.
* `APPLY_LOCK`: downstream application runs once at a time per tenant.
"""

from __future__ import annotations

from django.db import connection

INGEST_LOCK = 7301
APPLY_LOCK = 7302


def advisory_lock(lock_class: int, tenant_id: int, *, shared: bool = False) -> None:
    """Take a transaction-scoped advisory lock (no-op off PostgreSQL)."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [lock_class, tenant_id])
