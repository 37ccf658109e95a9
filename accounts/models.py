"""Tenants and who acts for them: managers, API keys, teams and agents."""

from __future__ import annotations

import zoneinfo
from functools import cached_property
from typing import Any, ClassVar, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager

from core import tenancy
from core.tenancy import TenantScopeMissing


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            gettext("Unknown IANA timezone %(zone)s.") % {"zone": repr(value)}
        ) from exc


# A tenant's own rate limit, per credential and minute: at most ten million (~170k/s).
MAX_RATE_LIMIT_PER_MINUTE = 10_000_000


class TenantQuerySet(models.QuerySet):
    """Tenant-owned rows: refused unless filtered by tenant or in a tenant scope (core/tenancy).

    The check runs when the query does (fetch, count, exists, aggregate, update, delete,
    iterator): inside a scope it adds the scope's tenant filter, outside one it raises
    `TenantScopeMissing` for a query that does not filter its tenant. Adds no query.
    """

    _tenant_unscoped = False
    _tenant_applied: frozenset[int] | None = None

    def for_tenant(self, tenant: Tenant | int | None) -> Self:
        """The one way request-serving code reads tenant-owned rows."""
        if tenant is None:
            raise TenantScopeMissing(f"{self.model.__name__} queried without a tenant")
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        return self.filter(tenant_id=tenant_id)

    def unscoped(self) -> Self:
        """Across tenants, on purpose: the sweeper, beat, rebuilds, operator commands only."""
        clone = self._chain()  # type: ignore[attr-defined]
        clone._tenant_unscoped = True
        return clone

    def _clone(self) -> Self:
        clone = super()._clone()  # type: ignore[misc]
        clone._tenant_unscoped = self._tenant_unscoped
        clone._tenant_applied = self._tenant_applied
        return clone

    def _tenant_guard(self) -> None:
        if self._tenant_unscoped:
            return
        state = tenancy.current()
        if state is tenancy.DISABLED:
            return
        if isinstance(state, frozenset):
            if self._tenant_applied != state:
                tenancy.restrict(self.query, state)
                self._tenant_applied = state
            return
        if self._hints.get("instance") is not None:  # type: ignore[attr-defined]
            return  # a loaded object's relation or prefetch: the parent was found in its tenant
        if tenancy.filters_tenant(self.query):
            return
        if tenancy.caller_is_exempt((__file__,)):
            return
        raise tenancy.refuse(self.model.__name__, (__file__,))

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._tenant_guard()
        super()._fetch_all()

    def _iterator(self, use_chunked_fetch: bool, chunk_size: int | None) -> Any:
        self._tenant_guard()
        return super()._iterator(use_chunked_fetch, chunk_size)  # type: ignore[misc]

    def count(self) -> int:
        if self._result_cache is None:
            self._tenant_guard()
        return super().count()

    def exists(self) -> bool:
        if self._result_cache is None:
            self._tenant_guard()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._tenant_guard()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._tenant_guard()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._tenant_guard()
        return super().delete()

    def explain(self, *, format: str | None = None, **options: Any) -> str:
        self._tenant_guard()
        return super().explain(format=format, **options)

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        # The objects are in hand (each was found in its tenant): their primary keys scope it.
        return super(TenantQuerySet, self.unscoped()).bulk_update(objs, fields, batch_size)


class Tenant(models.Model):
    """A contact-center customer. Every period is computed in its timezone."""

    class Weekday(models.IntegerChoices):  # labels translated for the admin
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_timezone]
    )
    week_start = models.PositiveSmallIntegerField(
        _("week starts on"),
        choices=Weekday.choices,
        default=Weekday.MONDAY,
        validators=[MaxValueValidator(6)],
    )
    auto_create_agents = models.BooleanField(
        _("create agents automatically"),
        default=True,
        help_text=_("Create unknown agents and teams named in events instead of rejecting them."),
    )
    widget_origins = models.JSONField(
        _("widget origins"),
        default=list,
        blank=True,
        help_text=_("Origins allowed to frame the widgets, e.g. https://desktop.example.com"),
    )
    api_rate_limit_per_minute = models.PositiveIntegerField(
        _("API rate limit per minute"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RATE_LIMIT_PER_MINUTE)],
        help_text=_(
            "Requests a minute allowed to each of this tenant's API keys, widget tokens and "
            "manager sessions before 429. Empty: the deployment's API_RATE_LIMIT_PER_MINUTE."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(api_rate_limit_per_minute__isnull=True)
                | Q(
                    api_rate_limit_per_minute__gte=1,
                    api_rate_limit_per_minute__lte=MAX_RATE_LIMIT_PER_MINUTE,
                ),
                name="tenant_api_rate_limit_range",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class TenantOwned(models.Model):
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(models.Model):
    """A Django user who manages a tenant, in the admin and through the session API."""

    class Role(models.TextChoices):  # labels translated for the admin
        OWNER = "owner", _("Owner")
        MANAGER = "manager", _("Manager")
        VIEWER = "viewer", _("Viewer")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tenant")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MANAGER)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) @ {self.tenant}"


SCOPES = ("ingest", "read", "manage")
ROLE_SCOPES = {
    Membership.Role.OWNER: frozenset(SCOPES),
    Membership.Role.MANAGER: frozenset(SCOPES),
    Membership.Role.VIEWER: frozenset({"read"}),
}


class ApiKey(AbstractAPIKey):
    """A platform's credential. Only a SHA-512 hash of the secret part is stored.

    The library's fields are declared again, the same, for their names and help in the
    admin's languages (the library has no catalogue of ours)."""

    prefix = models.CharField(_("prefix"), max_length=8, unique=True, editable=False)
    hashed_key = models.CharField(_("hashed key"), max_length=150, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    name = models.CharField(
        _("name"),
        max_length=50,
        blank=False,
        default=None,
        help_text=_("A free-form name for the API key. Need not be unique. 50 characters max."),
    )
    revoked = models.BooleanField(
        _("revoked"),
        blank=True,
        default=False,
        help_text=_(
            "If the API key is revoked, clients cannot use it anymore. (This cannot be undone.)"
        ),
    )
    expiry_date = models.DateTimeField(
        _("expires"),
        blank=True,
        null=True,
        help_text=_("Once API key expires, clients cannot use it anymore."),
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("tenant")
    )
    scopes = models.JSONField(_("scopes"), default=list)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    objects: ClassVar[APIKeyManager] = APIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")  # type: ignore[assignment] # the library's says str
        verbose_name_plural = _("API keys")  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Team(TenantOwned):
    external_id = models.CharField(_("external id"), max_length=128)
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent team"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], name="team_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Agent(TenantOwned):
    class Locale(models.TextChoices):
        EN = "en", "English"
        ZH_HANS = "zh-Hans", "简体中文"
        ZH_HANT = "zh-Hant", "繁體中文"
        FA = "fa", "فارسی"

    external_id = models.CharField(_("external id"), max_length=128)
    display_name = models.CharField(_("display name"), max_length=200)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agents",
        verbose_name=_("team"),
    )
    active = models.BooleanField(_("active"), default=True)
    # The choices are the languages' own names, as a language menu writes them.
    locale = models.CharField(
        _("language"), max_length=10, choices=Locale.choices, default=Locale.EN
    )
    avatar_url = models.URLField(_("avatar URL"), max_length=500, null=True, blank=True)  # noqa: DJ001 - null is the API's 'no avatar'
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")
        ordering = ["external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], name="agent_unique_external_id"
            )
        ]
        indexes = [models.Index(fields=["tenant", "team", "external_id"])]

    def __str__(self) -> str:
        return self.display_name


class AgentHistory(TenantOwned):
    """Each change of an agent's team or activity, from `valid_from` until the next row.

    Events are attributed to the team the agent was in when they occurred, and turnover
    counts deactivations, so this history is never rewritten.
    """

    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="history", verbose_name=_("agent")
    )
    valid_from = models.DateTimeField(_("valid from"))
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("team"),
    )
    active = models.BooleanField(_("active"))

    class Meta:
        ordering = ["agent", "valid_from", "id"]
        indexes = [models.Index(fields=["tenant", "agent", "valid_from"])]
        verbose_name = _("agent history")
        verbose_name_plural = _("agent history")

    def __str__(self) -> str:
        return f"{self.agent_id} from {self.valid_from:%Y-%m-%d %H:%M}"


class IdempotencyRecord(TenantOwned):
    """The first answer to a POST carrying an Idempotency-Key, replayed to its repeats."""

    credential = models.CharField(max_length=160)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(null=True)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "credential", "key"], name="idempotency_unique_key"
            ),
            models.CheckConstraint(
                condition=Q(status_code__isnull=True) | Q(status_code__gte=100),
                name="idempotency_status_code_valid",
            ),
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.credential} {self.key}"
