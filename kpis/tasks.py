"""Celery tasks of the KPI pipeline: thin wrappers that take ids and return an outcome."""

from __future__ import annotations

import time

from celery import shared_task

from accounts.models import Tenant
from kpis import ingest, metrics


@shared_task(name="kpis.apply_pending", acks_late=True)
def apply_pending(tenant_id: int) -> str:
    started = time.perf_counter()
    ingest.apply_started(tenant_id)
    # In-process tasks (the embedded default) run inline: there the run goes on to the end.
    budget = None if apply_pending.app.conf.task_always_eager else ingest.APPLY_RUN_SECONDS
    outcome = ingest.batches_apply(tenant_id=tenant_id, budget_seconds=budget)
    metrics.APPLY_SECONDS.observe(time.perf_counter() - started)
    return outcome


@shared_task(name="kpis.sweep_pending")
def sweep_pending() -> str:
    """Re-enqueue work whose task was lost (broker down, worker killed): unapplied batches,
    owed settings recomputes, stalled imports."""
    work = ingest.stalled_work()
    for tenant_id in work["recompute"]:
        recompute_tenant.delay(tenant_id)
    for job_id in work["import"]:
        run_import.delay(job_id)
    for tenant_id in work["apply"]:
        apply_pending.delay(tenant_id)
    return ", ".join(f"{len(ids)} {kind}" for kind, ids in work.items())


@shared_task(name="kpis.recompute_tenant", acks_late=True)
def recompute_tenant(tenant_id: int) -> str:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return "gone"
    summary = ingest.buckets_rebuild(tenant=tenant)
    return f"recomputed {summary.events} events"


@shared_task(name="kpis.run_import", acks_late=True)
def run_import(job_id: int) -> str:
    from kpis.services import imports

    return imports.import_job_run(job_id=job_id)
