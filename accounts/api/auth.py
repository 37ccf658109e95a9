"""Who is calling, for which tenant, with which scopes.

Every API request is authenticated into a `Principal`: the tenant it acts for and its scopes.
`TenantAPIView` (base.py) reads the tenant from it and nowhere else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core import signing
from django.core.cache import cache
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.models import ROLE_SCOPES, SCOPES, Agent, ApiKey, Membership, Team, Tenant

WIDGET_TOKEN_PREFIX = "wgt_"  # noqa: S105 - a marker, not a secret
WIDGET_SALT = "gamify.widget-token"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. Stands in for `request.user` on API requests."""

    tenant: Tenant
    scopes: frozenset[str]
    credential: str  # stable id used for rate limits and idempotency keys
    agent_id: int | None = None  # set for widget tokens: the one agent they may see
    user_id: int | None = None
    is_authenticated: bool = field(default=True, init=False)

    @property
    def is_widget(self) -> bool:
        return self.agent_id is not None

    @property
    def rate_limit_per_minute(self) -> int | None:
        """The tenant's own limit (admin), read by core's throttle; None: the deployment's."""
        return self.tenant.api_rate_limit_per_minute


class BearerAuthentication(BaseAuthentication):
    """`Authorization: Bearer <api key | widget token>`; widget pages also pass `?token=`."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Principal, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise exceptions.AuthenticationFailed(
                "Use 'Authorization: Bearer <api key or widget token>'."
            )
        if credential.startswith(WIDGET_TOKEN_PREFIX):
            principal = widget_token_principal(credential)
        else:
            principal = api_key_principal(credential)
        return principal, credential

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


KEY_CACHE_SECONDS = 30
LOCAL_SECONDS = 2.0
# This process's own copy, for LOCAL_SECONDS: most requests of a busy client then need no
# round trip at all to authenticate. A revocation reaches other processes within that time.
_local_keys: dict[str, tuple[float, ApiKey]] = {}


def key_cache_name(prefix: str) -> str:
    return f"apikey:{prefix}"


def forget_key(prefix: str) -> None:
    _local_keys.pop(prefix, None)
    cache.delete(key_cache_name(prefix))


def _cached_key(prefix: str) -> ApiKey | None:
    now = time.monotonic()
    local = _local_keys.get(prefix)
    if local is not None and now - local[0] < LOCAL_SECONDS:
        return local[1]
    key = cache.get(key_cache_name(prefix))
    if key is None:
        key = ApiKey.objects.select_related("tenant").filter(prefix=prefix, revoked=False).first()
        if key is not None:
            cache.set(key_cache_name(prefix), key, KEY_CACHE_SECONDS)
    if key is not None:
        if len(_local_keys) > 10_000:
            _local_keys.clear()
        _local_keys[prefix] = (now, key)
    return key


def api_key_principal(raw_key: str) -> Principal:
    prefix, dot, _ = raw_key.partition(".")
    if not dot or len(prefix) > 16:
        raise exceptions.AuthenticationFailed("Invalid API key.")
    # The key row (with its tenant) is cached briefly: authenticating is then a cache read,
    # not a query, on every request. Revoking deletes the entry; the hash is always checked.
    key = _cached_key(prefix)
    if key is None or key.revoked or key.has_expired or not key.is_valid(raw_key):
        raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
    now = timezone.now()
    # Recording every use would turn each read into a write; a minute's resolution is enough
    # to tell which keys are still in use.
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
        cache.set(key_cache_name(prefix), key, KEY_CACHE_SECONDS)
        _local_keys[prefix] = (time.monotonic(), key)
    return Principal(
        tenant=key.tenant,
        scopes=frozenset(key.scopes),
        credential=f"key:{key.prefix}",
    )


def widget_token_mint(
    *, agent: Agent | None = None, team: Team | None = None, ttl_seconds: int
) -> tuple[str, int]:
    """A signed, read-only token for one agent's widgets, or for one team's wallboard.

    Returns (token, expires at epoch). The payload names the tenant, then the agent (`a`) or
    the team (`m`): a team token opens the wallboard only and no API endpoint.
    """
    if (agent is None) == (team is None):
        raise ValueError("A widget token is for one agent or one team.")
    expires = int(time.time()) + ttl_seconds
    owner = agent if agent is not None else team
    assert owner is not None
    payload = {"t": owner.tenant_id, "e": expires}
    payload["a" if agent is not None else "m"] = owner.pk
    token = signing.dumps(payload, salt=WIDGET_SALT, compress=True)
    return WIDGET_TOKEN_PREFIX + token, expires


def widget_token_payload(token: str) -> dict[str, Any]:
    """The signed payload of a widget token, expired or not; BadSignature when tampered."""
    data = signing.loads(token.removeprefix(WIDGET_TOKEN_PREFIX), salt=WIDGET_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("t"), int):
        raise signing.BadSignature("Not a widget token.")
    return data


def widget_token_principal(token: str) -> Principal:
    try:
        data = widget_token_payload(token)
    except signing.BadSignature as exc:
        raise exceptions.AuthenticationFailed("Invalid widget token.") from exc
    if data.get("e", 0) < time.time():
        raise exceptions.AuthenticationFailed("The widget token has expired.")
    agent_id, tenant_id = data.get("a"), data.get("t")
    if isinstance(data.get("m"), int):
        # A team's wallboard token: a credential without any API scope (every endpoint is a
        # 403), so it can never read an agent's profile or wallet.
        tenant = Tenant.objects.filter(pk=int(data["t"])).first()
        if tenant is None:
            raise exceptions.AuthenticationFailed("Invalid widget token.")
        return Principal(
            tenant=tenant, scopes=frozenset({"wallboard"}), credential=f"team:{data['m']}"
        )
    if not isinstance(agent_id, int) or not isinstance(tenant_id, int):
        raise exceptions.AuthenticationFailed("Invalid widget token.")
    agent = (
        Agent.objects.select_related("tenant")
        .filter(pk=agent_id, tenant_id=tenant_id, active=True)
        .first()
    )
    if agent is None:
        raise exceptions.AuthenticationFailed("The widget token's agent is no longer active.")
    return Principal(
        tenant=agent.tenant,
        scopes=frozenset({"widget"}),
        credential=f"widget:{agent.pk}",
        agent_id=agent.pk,
    )


class ManagerSessionAuthentication(SessionAuthentication):
    """Managers logged in to the admin use the API with their session (CSRF enforced).

    A manager of several tenants picks one with `X-Gamify-Tenant: <slug>`.
    """

    def authenticate(self, request: Request) -> tuple[Principal, Any] | None:
        user = getattr(request._request, "user", None)
        if not user or not user.is_active or not user.is_authenticated:
            return None
        self.enforce_csrf(request)
        slug = request.META.get("HTTP_X_GAMIFY_TENANT", "")
        memberships = Membership.objects.select_related("tenant").filter(user=user)
        if slug:
            memberships = memberships.filter(tenant__slug=slug)
        found = list(memberships[:2])
        if len(found) == 1:
            tenant, scopes = found[0].tenant, ROLE_SCOPES[Membership.Role(found[0].role)]
        elif user.is_superuser and slug and (t := Tenant.objects.filter(slug=slug).first()):
            tenant, scopes = t, frozenset(SCOPES)
        elif not found:
            raise exceptions.PermissionDenied("You do not manage this tenant.")
        else:
            raise exceptions.PermissionDenied(
                "You manage several tenants: choose one with the X-Gamify-Tenant header."
            )
        principal = Principal(
            tenant=tenant, scopes=scopes, credential=f"user:{user.pk}", user_id=user.pk
        )
        return principal, None


class HasScope(BasePermission):
    """Reads need `read`, writes `manage`, unless the view says otherwise (`scopes`).

    Widget tokens pass only on views that declare `widget_access = True`, and only for
    safe methods; the view then limits them to their own agent.
    """

    message = "This credential lacks the scope this operation needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, Principal):
            raise exceptions.NotAuthenticated()
        needed = required_scope(view, request.method or "GET")
        if needed is None:
            return True
        if principal.is_widget:
            return bool(getattr(view, "widget_access", False)) and request.method in SAFE_METHODS
        accepted = (needed,) if isinstance(needed, str) else needed
        if not principal.scopes & set(accepted):
            self.message = f"This operation needs the '{"' or '".join(accepted)}' scope."
            return False
        return True


def required_scope(view: Any, method: str) -> str | tuple[str, ...] | None:
    """The scope a method needs (a tuple: any of them); None: any authenticated caller."""
    scopes: dict[str, str | tuple[str, ...] | None] = getattr(view, "scopes", {})
    if method in scopes:
        return scopes[method]
    return "read" if method in SAFE_METHODS else "manage"


def assert_widget_may_see_agent(principal: Principal, agent_id: int) -> None:
    if principal.is_widget and principal.agent_id != agent_id:
        raise exceptions.PermissionDenied("A widget token only shows its own agent.")
