"""Audit entries: one row per change, never updated nor deleted (a tenant's removal by an
operator cascades, as for the wallet ledger)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant, TenantQuerySet


class AuditAppendOnly(RuntimeError):
    """Something tried to change or delete an audit entry."""


class AuditQuerySet(TenantQuerySet):
    """Bulk updates and deletes would bypass `AuditEntry.save`/`delete`: refuse them too."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditAppendOnly("Audit entries are never changed.")

    def delete(self) -> NoReturn:
        raise AuditAppendOnly("Audit entries are never deleted.")


class AuditAction(models.TextChoices):  # labels translated for the admin
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    GRANT = "grant", _("Grant")
    ADJUST = "adjust", _("Adjust")
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")
    FULFIL = "fulfil", _("Fulfil")
    CANCEL = "cancel", _("Cancel")


class ActorKind(models.TextChoices):
    USER = "user", _("admin user")
    API_KEY = "api_key", _("API key")
    WIDGET = "widget", _("agent widget")
    SYSTEM = "system", _("system or command")


class AuditEntry(models.Model):
    """Who (an admin user, an API key, a command), when, what object, what changed."""

    Action = AuditAction

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    actor = models.CharField(
        _("actor"), max_length=160, help_text=_('"user:<id>", "key:<prefix>", "system"…')
    )
    actor_name = models.CharField(_("actor name"), max_length=160, blank=True)
    actor_kind = models.CharField(_("actor kind"), max_length=10, choices=ActorKind.choices)
    action = models.CharField(_("action"), max_length=10, choices=AuditAction.choices)
    object_type = models.CharField(
        _("object type"), max_length=40, help_text=_("point_rule, badge, reward, …")
    )
    object_id = models.CharField(_("object id"), max_length=160)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(
        _("before"), null=True, blank=True, help_text=_("The changed fields before")
    )
    after = models.JSONField(
        _("after"), null=True, blank=True, help_text=_("The changed fields after")
    )

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=AuditAction.values), name="audit_action_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(actor_kind__in=ActorKind.values), name="audit_actor_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="audit_tenant_feed"),
            models.Index(fields=["tenant", "object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name or self.actor} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditAppendOnly("Audit entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditAppendOnly("Audit entries are never deleted.")
