"""The activity feed: one row per achievement or transition an agent or manager would notice."""

from __future__ import annotations

from django.db import models

from accounts.models import Agent, Team, TenantOwned

ACTIVITY_TYPES = (
    "badge.awarded",
    "level.up",
    "points.adjusted",
    "points.late_adjustment",
    "contest.started",
    "contest.finished",
    "contest.won",
    "redemption.requested",
    "redemption.approved",
    "redemption.rejected",
    "redemption.fulfilled",
    "goal.achieved",
    "alert.exceeds",
    "alert.behind",
    "webhook.disabled",
    "wallet.granted",
)


class Activity(TenantOwned):
    """Append-only. `key` makes recording idempotent: a retried task records nothing twice."""

    type = models.CharField(max_length=40, choices=[(t, t) for t in ACTIVITY_TYPES])
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    occurred_at = models.DateTimeField()
    data = models.JSONField(default=dict)
    key = models.CharField(max_length=200)

    class Meta:
        verbose_name_plural = "activity"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="activity_unique_key")
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="activity_feed"),
            models.Index(fields=["tenant", "agent", "-id"], name="activity_agent_feed"),
            models.Index(fields=["tenant", "team", "-id"], name="activity_team_feed"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.occurred_at:%Y-%m-%d %H:%M}"
