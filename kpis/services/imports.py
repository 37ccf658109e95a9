"""Bulk imports: NDJSON of any length over HTTP, or a CSV/NDJSON file from the command line.

An upload is stored as chunks of 1000 lines in the database (so any web or worker machine can
process it), then ingested chunk by chunk through `events_ingest` — the same validation,
idempotency and buckets as `POST /events`. Each chunk is ingested and deleted in one
transaction, so a retried task resumes where the last one stopped.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from core import tenancy
from kpis.ingest import events_ingest
from kpis.models import ImportChunk, ImportJob, IngestBatch
from kpis.schemas import MAX_BATCH

MAX_LINE_BYTES = 64 * 1024
MAX_STORED_REJECTIONS = 1000
NUL_IN_LINE = "Contains a NUL character, which a JSON line cannot hold."


def import_job_create(*, tenant: Tenant, lines: Iterable[bytes]) -> ImportJob:
    """Store an NDJSON upload as chunks and enqueue its ingestion."""
    with transaction.atomic():
        job = ImportJob.objects.create(tenant=tenant)
        chunk: list[str] = []
        unreadable: list[dict[str, Any]] = []
        first_line, count = 1, 0
        for raw in lines:
            count += 1
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if "\x00" in line:
                # No JSON line holds a raw NUL, and PostgreSQL text cannot store one: the line
                # is refused now and kept as an empty line, so the numbering stays.
                unreadable.append(_line_error(count, None, NUL_IN_LINE))
                line = ""
            chunk.append(line)
            if len(chunk) == MAX_BATCH:
                ImportChunk.objects.create(job=job, first_line=first_line, data="\n".join(chunk))
                first_line, chunk = count + 1, []
        if chunk:
            ImportChunk.objects.create(job=job, first_line=first_line, data="\n".join(chunk))
        job.lines = count
        job.rejected = unreadable[:MAX_STORED_REJECTIONS]
        job.rejected_count = len(unreadable)
        job.save(update_fields=["lines", "rejected", "rejected_count"])
        from kpis.tasks import run_import

        transaction.on_commit(lambda: run_import.delay(job.pk), robust=True)
    return job


def _parse_lines(first_line: int, text: str) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
    """Decode a chunk: (items, their line numbers, rejections of undecodable lines)."""
    items: list[Any] = []
    numbers: list[int] = []
    rejected: list[dict[str, Any]] = []
    for offset, line in enumerate(text.split("\n")):
        number = first_line + offset
        if not line.strip():
            continue
        if len(line.encode()) > MAX_LINE_BYTES:
            rejected.append(_line_error(number, None, f"Longer than {MAX_LINE_BYTES} bytes."))
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            rejected.append(_line_error(number, None, f"Not JSON: {getattr(exc, 'msg', exc)}."))
            continue
        if not isinstance(item, dict):
            rejected.append(_line_error(number, None, "Each line must be a JSON object."))
            continue
        items.append(item)
        numbers.append(number)
    return items, numbers, rejected


def _line_error(line: int, event_id: str | None, message: str) -> dict[str, Any]:
    return {"line": line, "event_id": event_id, "errors": {"body": [message]}}


def import_job_run(*, job_id: int) -> str:
    """Ingest the job's stored chunks in order; safe to run again after a crash."""
    # A task's entry: the job's id names its tenant, whose scope the run then enters.
    job = ImportJob.objects.unscoped().filter(pk=job_id).select_related("tenant").first()
    if job is None:
        return "gone"
    with tenancy.tenant_scope(job.tenant_id):
        return _job_run(job, job_id)


def _job_run(job: ImportJob, job_id: int) -> str:
    if job.status == ImportJob.Status.FINISHED:
        return "already finished"
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    try:
        for chunk_id in list(job.chunks.order_by("first_line").values_list("id", flat=True)):
            with transaction.atomic():
                chunk = ImportChunk.objects.select_for_update().filter(pk=chunk_id).first()
                if chunk is None:
                    continue  # another run took it
                job = ImportJob.objects.select_for_update().get(pk=job_id)
                items, numbers, rejected = _parse_lines(chunk.first_line, chunk.data)
                result = events_ingest(
                    tenant=job.tenant, items=items, source=IngestBatch.Source.IMPORT
                )
                for r in result.rejected:
                    rejected.append(
                        {
                            "line": numbers[r["index"]],
                            "event_id": r["event_id"],
                            "errors": r["errors"],
                        }
                    )
                job.accepted += result.accepted
                job.duplicates += result.duplicates
                job.rejected_count += len(rejected)
                if len(job.rejected) < MAX_STORED_REJECTIONS:
                    # In line order, lines refused at upload (NUL) among them.
                    merged = sorted([*job.rejected, *rejected], key=lambda r: r["line"])
                    job.rejected = merged[:MAX_STORED_REJECTIONS]
                job.save(update_fields=["accepted", "duplicates", "rejected_count", "rejected"])
                chunk.delete()
    except Exception as exc:
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FINISHED, finished_at=timezone.now()
    )
    return "finished"


# --- files (manage.py import_events) --------------------------------------------------------
BOOL_FIELDS = {
    "offered",
    "answered",
    "abandoned",
    "blocked",
    "transferred",
    "resolved_first_contact",
    "save_attempt",
    "saved",
}
INT_FIELDS = {"csat", "nps", "ces"}
NUMBER_FIELDS = {
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "acw_seconds",
    "score",
    "scheduled_seconds",
    "adherent_seconds",
    "value",
    "count",
}


def csv_items(handle: TextIO) -> Iterator[tuple[int, Any]]:
    """(line number, event dict) for each row of a CSV whose header names event fields.

    Empty cells are left out; booleans are true/false (or 1/0); numbers are numbers. A cell
    that is not what its column needs is passed through as text, so validation names it.
    """
    reader = csv.DictReader(handle)
    for row in reader:
        item: dict[str, Any] = {}
        for key, cell in row.items():
            if key is None or cell is None or cell == "":
                continue
            key = key.strip()
            value: Any = cell.strip()
            if key in BOOL_FIELDS and value.lower() in {"true", "false", "1", "0"}:
                value = value.lower() in {"true", "1"}
            elif key in INT_FIELDS | NUMBER_FIELDS:
                try:
                    number = float(value)
                    value = int(number) if key in INT_FIELDS and number.is_integer() else number
                except ValueError:
                    pass
            item[key] = value
        yield reader.line_num, item


@dataclass(frozen=True)
class InvalidLine:
    message: str


def ndjson_items(handle: TextIO) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield number, InvalidLine(f"Not JSON: {getattr(exc, 'msg', exc)}.")
            continue
        yield number, item if isinstance(item, dict) else InvalidLine("Must be a JSON object.")


def import_file(*, tenant: Tenant, items: Iterable[tuple[int, Any]]) -> dict[str, Any]:
    """Ingest (line, item) pairs in batches of 1000; returns totals and line-numbered rejections."""
    totals: dict[str, Any] = {"lines": 0, "accepted": 0, "duplicates": 0, "rejected": []}
    batch: list[tuple[int, Any]] = []

    def flush() -> None:
        result = events_ingest(
            tenant=tenant, items=[i for _, i in batch], source=IngestBatch.Source.IMPORT
        )
        totals["accepted"] += result.accepted
        totals["duplicates"] += result.duplicates
        for r in result.rejected:
            totals["rejected"].append(
                {"line": batch[r["index"]][0], "event_id": r["event_id"], "errors": r["errors"]}
            )
        totals["rejected"].sort(key=lambda r: r["line"])
        batch.clear()

    for number, item in items:
        totals["lines"] = number
        if isinstance(item, InvalidLine):
            totals["rejected"].append(_line_error(number, None, item.message))
            continue
        batch.append((number, item))
        if len(batch) == MAX_BATCH:
            flush()
    if batch:
        flush()
    return totals
