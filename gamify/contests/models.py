"""Contests and their frozen results."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import TenantOwned


class Contest(TenantOwned):
    class Kind(models.TextChoices):  # labels translated for the admin
        RANKED = "ranked", _("Ranked")  # prizes by rank range
        TARGET = "target", _("Target")  # everyone who reaches the target wins

    class Entity(models.TextChoices):
        AGENT = "agent", _("Agent")
        TEAM = "team", _("Team")

    class Status(models.TextChoices):  # labels translated for the admin
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        # ended; late events still count during the grace window
        FINALIZING = "finalizing", _("Finalizing")
        FINISHED = "finished", _("Finished")
        CANCELLED = "cancelled", _("Cancelled")

    class Recurrence(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.RANKED)
    entity = models.CharField(
        _("entity"), max_length=10, choices=Entity.choices, default=Entity.AGENT
    )
    metric = models.CharField(_("metric"), max_length=40, help_text=_("points or a KPI code"))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    participants = models.JSONField(
        _("participants"),
        default=dict,
        blank=True,
        help_text=_('{"teams": [...], "agents": [...]} (empty: everyone)'),
    )
    min_volume = models.DecimalField(
        _("minimum volume"), max_digits=18, decimal_places=3, null=True, blank=True
    )
    target = models.DecimalField(
        _("target"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    guardrails = models.JSONField(_("guardrails"), default=list, blank=True)
    prizes = models.JSONField(_("prizes"), default=list, blank=True)
    # null is the API's "does not recur"
    recurrence = models.CharField(  # noqa: DJ001
        _("recurrence"), max_length=10, choices=Recurrence.choices, null=True, blank=True
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED
    )
    previous = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="next_instance",
        verbose_name=_("previous contest"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("contest")
        verbose_name_plural = _("contests")
        indexes = [models.Index(fields=["tenant", "status"], name="contest_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="contest_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ContestResult(models.Model):
    """One entry of a finished contest's frozen standings, with its prize."""

    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="results")
    entity_id = models.BigIntegerField()
    external_id = models.CharField(max_length=128)
    display_name = models.CharField(max_length=200)
    rank = models.PositiveIntegerField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    volume = models.DecimalField(max_digits=24, decimal_places=3)
    qualified = models.BooleanField()
    reason = models.CharField(max_length=300, blank=True)
    prize_coins = models.PositiveIntegerField(default=0)
    prize_badge = models.CharField(max_length=60, blank=True)
    position = models.PositiveIntegerField(help_text=_("Listing order"))

    class Meta:
        ordering = ["contest", "position"]
        constraints = [
            models.UniqueConstraint(fields=["contest", "entity_id"], name="contestresult_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contest_id}: #{self.rank} {self.display_name}"
