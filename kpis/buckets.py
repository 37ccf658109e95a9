"""Set-based storage of raw events and hourly buckets.

Two implementations of the same statements:
* PostgreSQL: one `INSERT … SELECT FROM unnest(arrays)` per table and batch — a round trip per
  table however many rows (PERF-NOTES.md: 15–50× faster than a row per round trip);
* portable (SQLite, the embedded default): `executemany` of the same upserts.
Tests run both against PostgreSQL, so they cannot drift apart.

Folding is exact: a bucket only ever receives the counters of events whose raw row this
transaction has just inserted (`ON CONFLICT DO NOTHING RETURNING` proves them new), or the
negated counters of an event this transaction has just voided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction

from core.locks import APPLY_LOCK as APPLY_LOCK  # kpis and gamify lock through here
from core.locks import APPLY_RUN_LOCK as APPLY_RUN_LOCK
from core.locks import INGEST_LOCK as INGEST_LOCK
from core.locks import advisory_lock as advisory_lock
from core.locks import session_lock_tried as session_lock_tried
from kpis.formulas import COUNTERS

AGENT_HOUR = "kpis_agenthour"
TEAM_HOUR = "kpis_teamhour"
AGENT_DAY = "kpis_agentday"
TEAM_DAY = "kpis_teamday"
AGENT_METRIC = "kpis_agentmetrichour"
TEAM_METRIC = "kpis_teammetrichour"
METRIC_COLUMNS = ("value_e4", "count_e4", "events")

# Tests flip this to run the portable statements on PostgreSQL too.
FORCE_PORTABLE = False


def use_unnest() -> bool:
    return connection.vendor == "postgresql" and not FORCE_PORTABLE


STAGING = f"""
CREATE TEMP TABLE IF NOT EXISTS gamify_stage_raw (
    event_id text, type smallint, occurred_at timestamptz, agent_id bigint, team_id bigint,
    payload text, body_hash text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS gamify_stage_hour (
    subject bigint, hour timestamptz, {", ".join(f"{c} bigint" for c in COUNTERS)}
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS gamify_stage_day (
    subject bigint, day date, {", ".join(f"{c} bigint" for c in COUNTERS)}
) ON COMMIT DELETE ROWS;
"""


def _ensure_staging(cursor: Any) -> None:
    """Session staging tables for COPY, emptied at each commit.

    Creating them is transactional (a rolled-back transaction takes them away again), so the
    database connection is marked as having them only once a transaction that created them
    has committed; until then every use re-runs the (idempotent) CREATE statements.
    """
    raw = connection.connection
    if getattr(raw, "gamify_staging", False):
        return
    cursor.execute(STAGING)

    def mark() -> None:
        if connection.connection is raw:
            raw.gamify_staging = True

    transaction.on_commit(mark)


def _empty_stage(cursor: Any, table: str) -> None:
    # DELETE, not TRUNCATE: a truncate swaps the table's files (a few ms each time); the few
    # dead rows left are dropped with the rest at commit (ON COMMIT DELETE ROWS).
    cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - our own staging table


def _adapt_key(value: Any) -> Any:
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return connection.ops.adapt_datefield_value(value)
    return value


def _adapt_time(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def agents_with_history(
    *, tenant_id: int, external_ids: set[str]
) -> list[tuple[str, int, int | None, datetime | None, int | None]]:
    """(external id, id, current team, history valid_from, history team) of the named agents,
    history in order — one query for a whole batch."""
    if not external_ids:
        return []
    ids = sorted(external_ids)
    params: list[Any]
    if connection.vendor == "postgresql":
        condition, params = "a.external_id = ANY(%s)", [tenant_id, ids]
    else:
        condition = f"a.external_id IN ({', '.join(['%s'] * len(ids))})"
        params = [tenant_id, *ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.external_id, a.id, a.team_id, h.valid_from, h.team_id
            FROM accounts_agent a
            LEFT JOIN accounts_agenthistory h ON h.agent_id = a.id AND h.tenant_id = a.tenant_id
            WHERE a.tenant_id = %s AND {condition}
            ORDER BY a.id, h.valid_from, h.id
            """,  # noqa: S608 - placeholders only
            params,
        )
        rows = cursor.fetchall()
    if connection.vendor != "postgresql":
        parse = connection.ops.convert_datetimefield_value  # type: ignore[attr-defined]
        rows = [
            (e, pk, t, parse(v, None, connection) if v is not None else None, ht)
            for e, pk, t, v, ht in rows
        ]
    return rows


def insert_raw_events(
    *,
    tenant_id: int,
    batch_id: int,
    received_at: datetime,
    rows: Sequence[tuple[str, int, datetime, int | None, int | None, str, str]],
) -> set[str]:
    """Insert (event_id, type, occurred_at, agent_id, team_id, payload_json, body_hash) rows;
    returns the event ids actually inserted (the others already existed)."""
    if not rows:
        return set()
    with connection.cursor() as cursor:
        if use_unnest():
            _ensure_staging(cursor)
            with cursor.copy(
                "COPY gamify_stage_raw (event_id, type, occurred_at, agent_id, team_id, payload,"
                " body_hash) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "int2", "timestamptz", "int8", "int8", "text", "text"])
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                """
                INSERT INTO kpis_rawevent (tenant_id, batch_id, event_id, type, occurred_at,
                                           agent_id, team_id, payload, body_hash, received_at)
                SELECT %s, %s, event_id, type, occurred_at, agent_id, team_id, payload::jsonb,
                       body_hash, %s
                FROM gamify_stage_raw
                ON CONFLICT (tenant_id, event_id) DO NOTHING
                RETURNING event_id
                """,
                [tenant_id, batch_id, received_at],
            )
            inserted_ids = {r[0] for r in cursor.fetchall()}
            _empty_stage(cursor, "gamify_stage_raw")
            return inserted_ids
        inserted: set[str] = set()
        received = _adapt_time(received_at)
        # SQLite allows 32766 variables per statement: 10 per row.
        for offset in range(0, len(rows), 500):
            chunk = rows[offset : offset + 500]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            params: list[Any] = []
            for event_id, type_, occurred_at, agent_id, team_id, payload, body_hash in chunk:
                params += [
                    tenant_id,
                    batch_id,
                    event_id,
                    type_,
                    _adapt_time(occurred_at),
                    agent_id,
                    team_id,
                    payload,
                    body_hash,
                    received,
                ]
            cursor.execute(
                f"""
                INSERT INTO kpis_rawevent (tenant_id, batch_id, event_id, type, occurred_at,
                                           agent_id, team_id, payload, body_hash, received_at)
                VALUES {values}
                ON CONFLICT (tenant_id, event_id) DO NOTHING
                RETURNING event_id
                """,  # noqa: S608 - only placeholders are interpolated
                params,
            )
            inserted.update(r[0] for r in cursor.fetchall())
        return inserted


def fold(
    table: str,
    key_column: str,
    *,
    tenant_id: int,
    rows: Mapping[tuple[Any, ...], Sequence[int]],
    columns: Sequence[str] = COUNTERS,
    key_parts: Sequence[str] = ("hour",),
) -> None:
    """Add each row's values to its bucket, creating the bucket when new.

    `rows` maps (subject id, *key_parts) to values aligned with `columns`. Keys are sorted so
    that concurrent transactions lock buckets in the same order (no deadlocks).
    """
    if not rows:
        return
    keys = sorted(rows)
    key_names = [key_column, *key_parts]
    all_columns = ["tenant_id", *key_names, *columns]
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
    conflict = ", ".join(["tenant_id", *key_names])
    with connection.cursor() as cursor:
        if (
            use_unnest()
            and tuple(columns) == COUNTERS
            and tuple(key_parts) in (("hour",), ("day",))
        ):
            # Counters: COPY into staging, then one set-based upsert (the hot path).
            part = key_parts[0]
            stage = f"gamify_stage_{part}"
            _ensure_staging(cursor)
            with cursor.copy(
                f"COPY {stage} (subject, {part}, {', '.join(COUNTERS)}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    ["int8", "timestamptz" if part == "hour" else "date"] + ["int8"] * len(COUNTERS)
                )
                for key in keys:
                    copy.write_row((*key, *rows[key]))
            cursor.execute(
                f"""
                INSERT INTO {table} ({", ".join(all_columns)})
                SELECT %s, subject, {part}, {", ".join(columns)} FROM {stage}
                ORDER BY subject, {part}
                ON CONFLICT ({conflict}) DO UPDATE SET {updates}
                """,  # noqa: S608 - table and column names are ours, values are parameters
                [tenant_id],
            )
            _empty_stage(cursor, stage)
            return
        if use_unnest():
            types = {"hour": "timestamptz", "kpi": "text", "day": "date"}
            arrays = [f"%s::{types.get(k, 'bigint')}[]" for k in key_names] + [
                "%s::bigint[]"
            ] * len(columns)
            aliases = [f"k{i}" for i in range(len(key_names))] + [
                f"v{i}" for i in range(len(columns))
            ]
            params: list[Any] = [tenant_id]
            for i in range(len(key_names)):
                params.append([key[i] for key in keys])
            for j in range(len(columns)):
                params.append([rows[key][j] for key in keys])
            cursor.execute(
                f"""
                INSERT INTO {table} ({", ".join(all_columns)})
                SELECT %s, {", ".join("u." + a for a in aliases)}
                FROM unnest({", ".join(arrays)}) AS u({", ".join(aliases)})
                ON CONFLICT ({conflict}) DO UPDATE SET {updates}
                """,  # noqa: S608 - table and column names are ours, values are parameters
                params,
            )
            return
        placeholders = ", ".join(["%s"] * len(all_columns))
        cursor.executemany(
            f"""
            INSERT INTO {table} ({", ".join(all_columns)}) VALUES ({placeholders})
            ON CONFLICT ({conflict}) DO UPDATE SET {updates}
            """,  # noqa: S608
            [
                [
                    tenant_id,
                    *(_adapt_key(k) for k in key),
                    *rows[key],
                ]
                for key in keys
            ],
        )


def drop_empty(
    table: str,
    key_column: str,
    *,
    tenant_id: int,
    keys: Iterable[tuple[Any, ...]],
    key_parts: Sequence[str] = ("hour",),
) -> None:
    """Delete buckets left with no events (after a void), so they equal a rebuild's."""
    keys = list(keys)
    if not keys:
        return
    conditions = " AND ".join(f"{c} = %s" for c in (key_column, *key_parts))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"DELETE FROM {table} WHERE tenant_id = %s AND {conditions} AND events = 0",  # noqa: S608
            [[tenant_id, *(_adapt_key(k) for k in key)] for key in keys],
        )


def delete_tenant_buckets(tenant_id: int) -> None:
    with connection.cursor() as cursor:
        for table in (AGENT_HOUR, TEAM_HOUR, AGENT_DAY, TEAM_DAY, AGENT_METRIC, TEAM_METRIC):
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant_id])  # noqa: S608
