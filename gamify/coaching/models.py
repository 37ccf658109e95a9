"""Coaching: the tenant's scorecard settings, goals, and alert rules with their firings.

Recomputable: a goal's progress and status (read from buckets when asked). Append-only
ledgers, like badge awards: a goal's achievements (an achievement is kept once given, so
`goal.achieved` is written once however late events move the value afterwards), alert
firings and the (agent, KPI, period) claims that keep "exceeds" and "behind" apart.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Agent, Team, Tenant, TenantOwned, TenantQuerySet

GOAL_PERIODS = ("day", "week", "month", "quarter")
ALERT_PERIODS = ("day", "week", "month")
PERIOD_LABELS = {"day": _("day"), "week": _("week"), "month": _("month"), "quarter": _("quarter")}
OP_CHOICES = [(">=", ">="), ("<=", "<=")]
DEFAULT_SCORECARD = (
    "fcr",
    "aht",
    "csat",
    "qa_score",
    "adherence",
    "transfer_rate",
    "contacts_handled",
    "turnover",
)


class CoachingSettings(models.Model):
    """Per-tenant scorecard settings; a tenant without a row uses the defaults."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, verbose_name=_("tenant")
    )
    scorecard_kpis = models.JSONField(
        _("scorecard KPIs"),
        default=list,
        blank=True,
        help_text=_("KPI codes in the scorecard's order; empty: the default list"),
    )
    close_band_percent = models.DecimalField(
        _("close band (%)"),
        max_digits=6,
        decimal_places=2,
        default=5,
        # xgettext:no-python-format
        help_text=_("A value within this % of its target is 'close' rather than 'missed'"),
    )
    move_counts_as_leaving = models.BooleanField(
        _("a move counts as leaving"),
        default=False,
        help_text=_(
            "Turnover on scorecards: an agent moved to another team has left the first one"
        ),
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("coaching settings")
        verbose_name_plural = _("coaching settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(close_band_percent__gte=0, close_band_percent__lte=100),
                name="coaching_band_0_100",
            )
        ]

    def __str__(self) -> str:
        return f"scorecard of tenant {self.tenant_id}"


class Goal(TenantOwned):
    """A measurable target: KPI op target, recurring every `period` or once until `deadline`,
    for one agent, one team (its own figures) or the whole tenant."""

    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    kpi = models.CharField(_("KPI"), max_length=40)
    op = models.CharField(_("comparison"), max_length=2, choices=OP_CHOICES)
    target = models.DecimalField(_("target"), max_digits=18, decimal_places=4)
    period = models.CharField(
        _("period"),
        max_length=7,
        choices=[(p, PERIOD_LABELS[p]) for p in GOAL_PERIODS],
        blank=True,
        default="",
    )
    start = models.DateField(_("start"), help_text=_("A deadline goal counts from this local day"))
    deadline = models.DateField(
        _("deadline"), null=True, blank=True, help_text=_("The last local day of a one-off goal")
    )
    agent = models.ForeignKey(
        Agent,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("agent"),
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("team"),
    )
    min_volume = models.DecimalField(
        _("minimum volume"), max_digits=18, decimal_places=3, null=True, blank=True
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("goal")
        verbose_name_plural = _("goals")
        constraints = [
            models.CheckConstraint(
                condition=(Q(period="") & Q(deadline__isnull=False))
                | (~Q(period="") & Q(deadline__isnull=True)),
                name="goal_period_xor_deadline",
            ),
            models.CheckConstraint(
                condition=Q(agent__isnull=True) | Q(team__isnull=True),
                name="goal_one_scope",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "active"], name="goal_active")]

    def __str__(self) -> str:
        return self.name or f"{self.kpi} {self.op} {self.target}"

    @property
    def scope(self) -> str:
        return "agent" if self.agent_id else "team" if self.team_id else "tenant"


class GoalAchievement(TenantOwned):
    """A goal met in one of its periods (the deadline goal's one window): kept once given."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="achievements")
    period_start = models.DateField()
    achieved_at = models.DateTimeField()
    value = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "period_start"], name="goalachievement_unique_period"
            )
        ]

    def __str__(self) -> str:
        return f"goal {self.goal_id} {self.period_start}"


class AlertRule(TenantOwned):
    """Tell managers when an agent clearly exceeds expectations or falls behind.

    `basis=team_average`: the agent's KPI better (exceeds) or worse (behind) than the team's by
    more than `percent` % in each of the last `periods` periods. `basis=goal`: one of the
    agent's goals on the KPI (any KPI when blank) achieved before its period ends (exceeds),
    or at risk (behind).
    """

    class Kind(models.TextChoices):  # labels translated for the admin
        EXCEEDS = "exceeds", _("Exceeds expectations")
        BEHIND = "behind", _("Falls behind")

    class Basis(models.TextChoices):
        TEAM_AVERAGE = "team_average", _("Team average")
        GOAL = "goal", _("Goal")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=7, choices=Kind.choices)
    basis = models.CharField(
        _("basis"), max_length=12, choices=Basis.choices, default=Basis.TEAM_AVERAGE
    )
    kpi = models.CharField(_("KPI"), max_length=40, blank=True, default="")
    percent = models.DecimalField(_("percent"), max_digits=8, decimal_places=2, default=10)
    periods = models.PositiveSmallIntegerField(_("periods in a row"), default=1)
    period = models.CharField(
        _("period"),
        max_length=5,
        choices=[(p, PERIOD_LABELS[p]) for p in ALERT_PERIODS],
        default="day",
    )
    min_volume = models.DecimalField(
        _("minimum volume"), max_digits=18, decimal_places=3, null=True, blank=True
    )
    cooldown_minutes = models.PositiveIntegerField(_("cool-down (minutes)"), default=240)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        constraints = [
            models.CheckConstraint(condition=Q(periods__gte=1), name="alertrule_periods_gte_1"),
            models.CheckConstraint(condition=Q(percent__gte=0), name="alertrule_percent_gte_0"),
        ]

    def __str__(self) -> str:
        return self.name


class AlertClaim(TenantOwned):
    """The first alert kind to fire for an (agent, KPI, period) owns it: the other never fires
    there (the database refuses a second claim)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    kpi = models.CharField(max_length=40)
    period = models.CharField(max_length=12)
    period_start = models.DateField()
    kind = models.CharField(max_length=7, choices=AlertRule.Kind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "agent", "kpi", "period", "period_start"],
                name="alertclaim_unique_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} agent {self.agent_id} {self.kpi} {self.period} {self.period_start}"


class AlertFiring(TenantOwned):
    """One alert sent (an `alert.*` activity): the cool-down counts from the last one."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="firings")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    kpi = models.CharField(max_length=40)
    period_start = models.DateField()
    fired_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["rule", "agent", "kpi", "-fired_at"], name="alertfiring_last")
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} agent {self.agent_id} {self.fired_at:%Y-%m-%d %H:%M}"


class CoachingPeriodClose(TenantOwned):
    """A period coaching has judged after its grace window (goals missed or achieved at the
    close, alerts on the whole period): once per tenant, kind and start."""

    period = models.CharField(max_length=7)
    start = models.DateField()
    closed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period", "start"], name="coachingclose_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.start}"
