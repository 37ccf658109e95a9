"""Points, levels and badges.

Recomputable (a pure function of buckets and configuration): point awards of open periods,
points per agent per day, lifetime points and levels. Append-only ledgers (never recomputed):
manual adjustments, finalized awards, badge awards, period closes.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Agent, Tenant, TenantOwned, TenantQuerySet

PERIOD_CHOICES = [("day", "day"), ("week", "week"), ("month", "month")]
OP_CHOICES = [(">=", ">="), ("<=", "<=")]


class GameSettings(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True)
    grace_minutes = models.PositiveIntegerField(
        default=120,
        help_text="Late events still count this long after a period ends; then it is finalized",
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "game settings"

    def __str__(self) -> str:
        return f"grace {self.grace_minutes} min"


class PointRule(TenantOwned):
    class Kind(models.TextChoices):
        PER_UNIT = "per_unit"
        TARGET = "target"
        SCALED = "scaled"

    name = models.CharField(max_length=200)
    kpi = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    points = models.PositiveIntegerField()
    period = models.CharField(max_length=5, choices=PERIOD_CHOICES, default="day")
    op = models.CharField(max_length=2, choices=OP_CHOICES, blank=True, default="")
    threshold = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    lower = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    upper = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    min_volume = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    cap = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "active"], name="pointrule_active")]

    def __str__(self) -> str:
        return self.name


class PointAward(TenantOwned):
    """Points a rule gives an agent for one period; recomputed until the period is finalized."""

    rule = models.ForeignKey(PointRule, on_delete=models.CASCADE, related_name="awards")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField()
    day = models.DateField(help_text="The local day the points count on: the period's last day")
    points = models.IntegerField()
    finalized = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "agent", "period_start"], name="pointaward_unique_period"
            )
        ]
        indexes = [models.Index(fields=["tenant", "agent", "day"], name="pointaward_agent_day")]

    def __str__(self) -> str:
        return f"{self.points} pts rule {self.rule_id} agent {self.agent_id} {self.period_start}"


class PointAdjustment(TenantOwned):
    """A manager's manual correction: append-only, counted in every total, kept by rebuilds."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    points = models.IntegerField()
    reason = models.CharField(max_length=500)
    day = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=160)

    class Meta:
        indexes = [models.Index(fields=["tenant", "agent", "day"], name="adjustment_agent_day")]

    def __str__(self) -> str:
        return f"{self.points:+d} for agent {self.agent_id}: {self.reason}"


class AgentDayPoints(models.Model):
    """Σ points an agent earned on a local day (awards counted on that day + adjustments)."""

    pk = models.CompositePrimaryKey("tenant_id", "agent_id", "day")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    points = models.IntegerField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="daypoints_tenant_day")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} {self.day}: {self.points}"


class AgentGameState(models.Model):
    """Lifetime points and level of an agent (derived), and the highest level ever reached."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    lifetime_points = models.IntegerField(default=0)
    level = models.PositiveIntegerField(default=1)
    highest_level = models.PositiveIntegerField(default=1)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"agent {self.agent_id}: {self.lifetime_points} pts, level {self.level}"


class Level(TenantOwned):
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    min_points = models.PositiveIntegerField()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="level_unique_number"),
            models.UniqueConstraint(fields=["tenant", "min_points"], name="level_unique_points"),
        ]

    def __str__(self) -> str:
        return f"{self.number}. {self.name}"


class Badge(TenantOwned):
    class Kind(models.TextChoices):
        KPI_THRESHOLD = "kpi_threshold"
        COUNT = "count"
        STREAK = "streak"
        POINTS = "points"
        CONTEST_PLACE = "contest_place"

    code = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    icon = models.CharField(max_length=500, blank=True, help_text="An emoji or an https URL")
    coins = models.PositiveIntegerField(default=0)
    repeatable = models.BooleanField(default=False)
    criteria = models.JSONField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="badge_unique_code")]

    def __str__(self) -> str:
        return self.name

    @property
    def kind(self) -> str:
        return str(self.criteria.get("kind", ""))


class BadgeAward(TenantOwned):
    """A badge given to an agent: kept once given. `period_key` is "" for a one-off badge, or
    the period's first day for a repeatable one."""

    badge = models.ForeignKey(Badge, on_delete=models.PROTECT, related_name="awards")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    period_key = models.CharField(max_length=20, blank=True, default="")
    awarded_at = models.DateTimeField()
    coins = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["badge", "agent", "period_key"], name="badgeaward_unique_period"
            )
        ]
        indexes = [models.Index(fields=["tenant", "agent", "-awarded_at"], name="badgeaward_agent")]

    def __str__(self) -> str:
        return f"{self.badge_id} → agent {self.agent_id} {self.period_key}"


class PeriodClose(TenantOwned):
    """A finalized period: exactly one row, written in the transaction that froze it."""

    period = models.CharField(max_length=5, choices=PERIOD_CHOICES)
    start = models.DateField()
    finalized_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period", "start"], name="periodclose_unique"
            ),
            models.CheckConstraint(
                condition=Q(period__in=["day", "week", "month"]), name="periodclose_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.start}"
