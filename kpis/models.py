"""Raw events (the source of truth), their outbox batches, and the hourly KPI buckets."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Agent, Team, Tenant, TenantOwned, TenantQuerySet
from kpis.formulas import COUNTERS


class Kpi(TenantOwned):
    """A tenant's custom KPI, or its overrides of a built-in one (`min_volume`)."""

    class Unit(models.TextChoices):
        PERCENT = "percent"
        SECONDS = "seconds"
        COUNT = "count"
        SCORE = "score"

    class Direction(models.TextChoices):
        HIGHER = "higher_is_better"
        LOWER = "lower_is_better"

    class Aggregation(models.TextChoices):
        SUM = "sum"
        RATIO = "ratio"

    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=10, choices=Unit.choices)
    direction = models.CharField(max_length=20, choices=Direction.choices)
    aggregation = models.CharField(max_length=10, choices=Aggregation.choices)
    min_volume = models.DecimalField(max_digits=18, decimal_places=3)
    custom = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="kpi_unique_code"),
            models.CheckConstraint(condition=Q(min_volume__gte=0), name="kpi_min_volume_gte_0"),
        ]
        verbose_name = "KPI"

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class InteractionSettings(models.Model):
    """Per-tenant interaction settings that change what events count for (buckets recompute)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True)
    threshold_seconds = models.PositiveIntegerField(
        default=20, help_text="Service level: answered within this many seconds"
    )
    short_abandon_seconds = models.PositiveIntegerField(
        default=5, help_text="Abandons quicker than this are excluded from abandon rate and SL"
    )
    # Set in the transaction that changes a setting, cleared by the recompute that applies it:
    # a recompute lost with the broker is found and redone by the sweeper.
    recompute_requested_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "interaction settings"

    def __str__(self) -> str:
        return f"SL {self.threshold_seconds}s, short abandon {self.short_abandon_seconds}s"


class IngestBatch(TenantOwned):
    """The outbox: one row per accepted batch, applied downstream by a Celery task.

    Raw events point at their batch, so "stored but not yet applied" is the events of the
    batches with no `applied_at`; the sweeper re-enqueues those if a task was lost.
    """

    class Source(models.TextChoices):
        API = "api"
        IMPORT = "import"
        VOID = "void"
        RECOMPUTE = "recompute"
        # Configuration or a ledger changed (a rule, a badge, a KPI's minimum volume, a manual
        # adjustment, an agent's team): no new events, but derived state must follow.
        CHANGE = "change"

    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField()
    accepted = models.PositiveIntegerField(default=0)
    # [[agent_id|null, team_id|null, "YYYY-MM-DD"], …]: the local days whose buckets changed.
    touched = models.JSONField(default=list)
    # a settings change or rebuild touched every bucket of the tenant
    everything = models.BooleanField(default=False)
    applied_at = models.DateTimeField(null=True, blank=True)
    # A batch the apply task could not apply is set aside, so it blocks no other batch: the
    # error is kept (GET /ingest/status, /metrics), and it is tried again from `retry_at`,
    # with a growing back-off, or at once after a void or a rebuild.
    failed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant", "id"], condition=Q(applied_at__isnull=True), name="batch_pending"
            ),
            models.Index(
                fields=["created_at"],
                condition=Q(applied_at__isnull=True),
                name="batch_pending_age",
            ),
        ]
        verbose_name_plural = "ingest batches"

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.accepted} events)"


class RawEvent(models.Model):
    """An event as accepted: append-only, but for `voided_at`."""

    id = models.BigAutoField(primary_key=True)
    # Every index costs each of the ~200k inserts a second this table is built for: no index
    # of its own for the tenant (the unique (tenant, event_id) leads with it) or the batch
    # (nothing looks events up by batch).
    # No database constraint either, as on the bucket tables: PostgreSQL checks a foreign key
    # with a query per inserted row, which cost a third of the raw insert (bench/ingest.py).
    # Deleting a tenant still deletes its events: the ORM cascades.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    # Agents and teams are never deleted (deactivated), and batches are kept: the foreign keys
    # below skip the database constraint to spare three more lookups per inserted event.
    batch = models.ForeignKey(
        IngestBatch,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    event_id = models.CharField(max_length=128)
    type = models.PositiveSmallIntegerField()
    occurred_at = models.DateTimeField()
    agent = models.ForeignKey(
        Agent,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    team = models.ForeignKey(
        Team,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    payload = models.JSONField()
    body_hash = models.CharField(max_length=32)
    received_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "event_id"], name="rawevent_unique_event_id")
        ]
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="rawevent_tenant_time"),
            # Events of agents without a team: the only ones no team bucket holds, read for
            # tenant-wide figures (kpis.selectors.teamless_sums). Partial: it costs an insert
            # of any other event nothing but the predicate.
            models.Index(
                fields=["tenant", "occurred_at"],
                name="rawevent_teamless",
                condition=models.Q(team__isnull=True, agent__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.event_id


def _counter_fields() -> dict[str, models.Field[int, int]]:
    return {name: models.BigIntegerField(default=0) for name in COUNTERS}


class _Counters(models.Model):
    # Buckets are read and written by (tenant, subject, time): the composite primary key and the
    # (tenant, time) index serve every query, so the foreign keys get no index of their own
    # (one fewer index to update on every bucket upsert). Agents and teams are never deleted.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


for _name, _field in _counter_fields().items():
    _field.contribute_to_class(_Counters, _name)


class _HourBucket(_Counters):
    hour = models.DateTimeField(help_text="Start of the local hour (stored as an instant)")

    class Meta:
        abstract = True


class _DayBucket(_Counters):
    """The same counters per local day: periods of whole days read ~24× fewer rows."""

    day = models.DateField(help_text="Local date in the tenant's timezone")

    class Meta:
        abstract = True


class AgentHour(_HourBucket):
    """Σ counters of one agent's events in one local hour."""

    pk = models.CompositePrimaryKey("tenant_id", "agent_id", "hour")
    agent = models.ForeignKey(
        Agent, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["tenant", "hour"], name="agenthour_tenant_hour")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} @ {self.hour:%Y-%m-%d %H:%M}"


class TeamHour(_HourBucket):
    """Σ counters of the events attributed directly to one team in one local hour."""

    pk = models.CompositePrimaryKey("tenant_id", "team_id", "hour")
    team = models.ForeignKey(
        Team, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["tenant", "hour"], name="teamhour_tenant_hour")]

    def __str__(self) -> str:
        return f"team {self.team_id} @ {self.hour:%Y-%m-%d %H:%M}"


class AgentDay(_DayBucket):
    pk = models.CompositePrimaryKey("tenant_id", "agent_id", "day")
    agent = models.ForeignKey(
        Agent, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="agentday_tenant_day")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} on {self.day}"


class TeamDay(_DayBucket):
    pk = models.CompositePrimaryKey("tenant_id", "team_id", "day")
    team = models.ForeignKey(
        Team, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="teamday_tenant_day")]

    def __str__(self) -> str:
        return f"team {self.team_id} on {self.day}"


class _MetricHour(models.Model):
    tenant = models.ForeignKey(  # indexes: as for _Counters
        Tenant, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    kpi = models.CharField(max_length=40)
    hour = models.DateTimeField()
    # Σ value and Σ count in ten-thousandths: exact integer sums on every database.
    value_e4 = models.BigIntegerField(default=0)
    count_e4 = models.BigIntegerField(default=0)
    events = models.BigIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class AgentMetricHour(_MetricHour):
    """Σ value and Σ count of one agent's `metric` events for one custom KPI in one hour."""

    pk = models.CompositePrimaryKey("tenant_id", "agent_id", "kpi", "hour")
    agent = models.ForeignKey(
        Agent, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["tenant", "kpi", "hour"], name="agentmetric_kpi_hour")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} {self.kpi} @ {self.hour:%Y-%m-%d %H:%M}"


class TeamMetricHour(_MetricHour):
    pk = models.CompositePrimaryKey("tenant_id", "team_id", "kpi", "hour")
    team = models.ForeignKey(
        Team, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["tenant", "kpi", "hour"], name="teammetric_kpi_hour")]

    def __str__(self) -> str:
        return f"team {self.team_id} {self.kpi} @ {self.hour:%Y-%m-%d %H:%M}"


class ImportJob(TenantOwned):
    """An NDJSON import: lines are stored in chunks, then ingested by a task."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    lines = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list)
    rejected_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"


class ImportChunk(models.Model):
    """Up to 1000 consecutive lines of an import, kept until ingested."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    first_line = models.PositiveIntegerField()
    data = models.TextField()

    class Meta:
        ordering = ["job", "first_line"]
        constraints = [
            models.UniqueConstraint(fields=["job", "first_line"], name="importchunk_unique")
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.first_line}"
