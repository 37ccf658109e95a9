"""Transaction-scoped advisory locks per tenant (PostgreSQL; SQLite serialises writers anyway).

* `INGEST_LOCK`: ingestion holds it shared while it stamps events with the agents' teams and
  stores them; a rebuild holds it exclusively, and so does a change of an agent's team or
  activity, so that an event is stamped either before the change commits or after it, never
  with a view of the agent's history that the change is about to make wrong.
* `APPLY_LOCK`: downstream application runs once at a time per tenant.
* `APPLY_RUN_LOCK`: held by an apply run from its first group to its last (a session-level
  lock, across the groups' transactions), so that a second run of the tenant's sees one in
  progress and returns instead of holding its worker while it waits for the groups' lock.

A request must not wait on a lock past the web server's timeout (a long rebuild or apply
holds these for seconds): request paths pass `wait_seconds`, and a lock not had by then is a
`BusyError` (503 with Retry-After) instead of a worker killed mid-wait. Tasks wait as long
as it takes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, OperationalError, connection

from core.errors import BusyError

INGEST_LOCK = 7301
APPLY_LOCK = 7302
APPLY_RUN_LOCK = 7303
# How long a request waits for a tenant's lock: well inside gunicorn's 30 s timeout.
REQUEST_LOCK_WAIT_SECONDS = 10


def advisory_lock(
    lock_class: int, tenant_id: int, *, shared: bool = False, wait_seconds: float | None = None
) -> None:
    """Take a transaction-scoped advisory lock (no-op off PostgreSQL). With `wait_seconds`,
    give up after that long with a `BusyError` (the transaction is then aborted)."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        if wait_seconds is None:
            cursor.execute(f"SELECT {function}(%s, %s)", [lock_class, tenant_id])
            return
        cursor.execute("SELECT current_setting('lock_timeout')")
        (previous,) = cursor.fetchone()
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true)", [f"{int(wait_seconds * 1000)}ms"]
        )
        try:
            cursor.execute(f"SELECT {function}(%s, %s)", [lock_class, tenant_id])
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
                raise BusyError(
                    "The tenant's game is being recomputed; send the request again shortly.",
                    retry_after=max(1, int(wait_seconds)),
                ) from exc
            raise
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


log = logging.getLogger(__name__)


@contextmanager
def session_lock_tried(lock_class: int, tenant_id: int) -> Iterator[bool]:
    """Hold a session-level advisory lock for the block if no other session holds it, without
    waiting: yields whether it was had (always, off PostgreSQL). Released at the end whatever
    the block did; a session that dies (a worker killed, PostgreSQL restarted) releases it."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [lock_class, tenant_id])
        (had,) = cursor.fetchone()
    if not had:
        yield False
        return
    try:
        yield True
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [lock_class, tenant_id])
        except DatabaseError:
            # Not released on this session (its transaction is aborted, or it broke): end the
            # session, which releases it; kept, it would turn every later run away.
            log.warning("Lock %s of tenant %s: session closed to release it", lock_class,
                        tenant_id, exc_info=True)  # fmt: skip
            connection.close()
