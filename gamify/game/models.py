"""Points, levels and badges.

Recomputable (a pure function of buckets and configuration): point awards of open periods,
points per agent per day, lifetime points and levels. Append-only ledgers (never recomputed):
manual adjustments, finalized awards, badge awards, period closes.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Agent, Tenant, TenantOwned, TenantQuerySet

PERIOD_CHOICES = [("day", _("day")), ("week", _("week")), ("month", _("month"))]
OP_CHOICES = [(">=", ">="), ("<=", "<=")]


class GameSettings(models.Model):
    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, verbose_name=_("tenant")
    )
    grace_minutes = models.PositiveIntegerField(
        _("grace minutes"),
        default=120,
        help_text=_("Late events still count this long after a period ends; then it is finalized"),
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("game settings")
        verbose_name_plural = _("game settings")

    def __str__(self) -> str:
        return f"grace {self.grace_minutes} min"


class PointRule(TenantOwned):
    class Kind(models.TextChoices):  # labels translated for the admin
        PER_UNIT = "per_unit", _("Per unit")
        TARGET = "target", _("Target")
        SCALED = "scaled", _("Scaled")

    name = models.CharField(_("name"), max_length=200)
    kpi = models.CharField(_("KPI"), max_length=40)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points = models.PositiveIntegerField(_("points"))
    period = models.CharField(_("period"), max_length=5, choices=PERIOD_CHOICES, default="day")
    op = models.CharField(_("comparison"), max_length=2, choices=OP_CHOICES, blank=True, default="")
    threshold = models.DecimalField(
        _("threshold"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    lower = models.DecimalField(
        _("lower bound"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    upper = models.DecimalField(
        _("upper bound"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    min_volume = models.DecimalField(
        _("minimum volume"), max_digits=18, decimal_places=3, default=0
    )
    cap = models.PositiveIntegerField(_("cap"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    deleted = models.BooleanField(_("deleted"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("point rule")
        verbose_name_plural = _("point rules")
        indexes = [models.Index(fields=["tenant", "active"], name="pointrule_active")]

    def __str__(self) -> str:
        return self.name


class PointAward(TenantOwned):
    """Points a rule gives an agent for one period; recomputed until the period is finalized."""

    rule = models.ForeignKey(
        PointRule, on_delete=models.CASCADE, related_name="awards", verbose_name=_("point rule")
    )
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="+", verbose_name=_("agent")
    )
    period_start = models.DateField(_("period start"))
    day = models.DateField(
        _("day"), help_text=_("The local day the points count on: the period's last day")
    )
    points = models.IntegerField(_("points"))
    finalized = models.BooleanField(_("finalized"), default=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("point award")
        verbose_name_plural = _("point awards")
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

    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="+", verbose_name=_("agent")
    )
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=500)
    day = models.DateField(_("day"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    actor = models.CharField(_("actor"), max_length=160)

    class Meta:
        verbose_name = _("point adjustment")
        verbose_name_plural = _("point adjustments")
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
    number = models.PositiveIntegerField(_("number"))
    name = models.CharField(_("name"), max_length=100)
    min_points = models.PositiveIntegerField(_("minimum points"))

    class Meta:
        verbose_name = _("level")
        verbose_name_plural = _("levels")
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

    code = models.SlugField(_("code"), max_length=60)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    icon = models.CharField(
        _("icon"), max_length=500, blank=True, help_text=_("An emoji or an https URL")
    )
    coins = models.PositiveIntegerField(_("coins"), default=0)
    repeatable = models.BooleanField(_("repeatable"), default=False)
    criteria = models.JSONField(_("criteria"))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("badge")
        verbose_name_plural = _("badges")
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="badge_unique_code")]

    def __str__(self) -> str:
        return self.name

    @property
    def kind(self) -> str:
        return str(self.criteria.get("kind", ""))


class BadgeAward(TenantOwned):
    """A badge given to an agent: kept once given. `period_key` is "" for a one-off badge, or
    the period's first day for a repeatable one."""

    badge = models.ForeignKey(
        Badge, on_delete=models.PROTECT, related_name="awards", verbose_name=_("badge")
    )
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="+", verbose_name=_("agent")
    )
    period_key = models.CharField(_("period key"), max_length=20, blank=True, default="")
    awarded_at = models.DateTimeField(_("awarded at"))
    coins = models.PositiveIntegerField(_("coins"), default=0)
    data = models.JSONField(_("data"), default=dict)

    class Meta:
        verbose_name = _("badge award")
        verbose_name_plural = _("badge awards")
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

    period = models.CharField(_("period"), max_length=5, choices=PERIOD_CHOICES)
    start = models.DateField(_("start"))
    finalized_at = models.DateTimeField(_("finalized at"))

    class Meta:
        verbose_name = _("period close")
        verbose_name_plural = _("period closes")
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
