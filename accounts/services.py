"""Writes for tenants, API keys, teams and agents."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import (
    SCOPES,
    Agent,
    AgentHistory,
    ApiKey,
    Team,
    Tenant,
    validate_timezone,
)
from core.errors import InvalidInputError
from core.locks import INGEST_LOCK, REQUEST_LOCK_WAIT_SECONDS, advisory_lock

EXTERNAL_ID_MAX = 128
_FORBIDDEN_IN_ID = re.compile(r"[\x00-\x1f\x7f/\\?#%]")


def external_id_errors(value: object) -> list[str]:
    """Why a platform's id is unusable (it appears in URLs), or [] when it is fine."""
    if not isinstance(value, str):
        return ["Must be a string."]
    if not value or value != value.strip():
        return ["Must be non-empty, without leading or trailing spaces."]
    if len(value) > EXTERNAL_ID_MAX:
        return [f"At most {EXTERNAL_ID_MAX} characters (got {len(value)})."]
    if _FORBIDDEN_IN_ID.search(value):
        return ["Must not contain control characters or any of / \\ ? # %."]
    return []


def tenant_create(
    *,
    name: str,
    timezone_name: str = "UTC",
    slug: str | None = None,
    week_start: int = Tenant.Weekday.MONDAY,
) -> Tenant:
    """Create a tenant; the slug is derived from the name and made unique when not given."""
    if not name.strip():
        raise InvalidInputError({"name": "Must not be empty."})
    try:
        validate_timezone(timezone_name)
    except Exception as exc:
        raise InvalidInputError({"timezone": f"Unknown IANA timezone {timezone_name!r}."}) from exc
    base = slugify(slug or name)[:50] or "tenant"
    candidate, n = base, 1
    while Tenant.objects.filter(slug=candidate).exists():
        if slug:
            raise InvalidInputError({"slug": f"A tenant with slug {slug!r} exists."})
        n += 1
        candidate = f"{base}-{n}"
    return Tenant.objects.create(
        name=name.strip(), slug=candidate, timezone=timezone_name, week_start=week_start
    )


def api_key_create(
    *, tenant: Tenant, scopes: Iterable[str], name: str = "API key"
) -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned once and never stored."""
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown or not wanted:
        raise InvalidInputError(
            {"scopes": f"Choose from {', '.join(SCOPES)} (got {', '.join(wanted) or 'none'})."}
        )
    key, raw = ApiKey.objects.create_key(tenant=tenant, scopes=wanted, name=name[:50])
    assert isinstance(key, ApiKey)
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    """Revoke a key; it stops working at once (its cached copy goes too)."""
    from accounts.api.auth import forget_key

    ApiKey.objects.filter(pk=key.pk).update(revoked=True)
    forget_key(key.prefix)


def team_upsert(
    *, tenant: Tenant, external_id: str, name: str, parent_external_id: str | None
) -> tuple[Team, bool]:
    """Create or update a team; returns (team, created). A parent cycle is a 400 on `parent`."""
    with transaction.atomic():
        teams = {t.external_id: t for t in Team.objects.for_tenant(tenant).select_for_update()}
        parent = _checked_parent(teams, external_id, parent_external_id)
        team = teams.get(external_id)
        if team is None:
            try:
                with transaction.atomic():
                    team = Team.objects.create(
                        tenant=tenant, external_id=external_id, name=name, parent=parent
                    )
            except IntegrityError:  # created concurrently: update it instead
                team = (
                    Team.objects.for_tenant(tenant).select_for_update().get(external_id=external_id)
                )
            else:
                return team, True
        team.name, team.parent = name, parent
        team.save(update_fields=["name", "parent", "updated_at"])
        return team, False


def _checked_parent(
    teams: dict[str, Team], external_id: str, parent_external_id: str | None
) -> Team | None:
    if parent_external_id is None:
        return None
    parent = teams.get(parent_external_id)
    if parent is None:
        raise InvalidInputError({"parent": f"No team {parent_external_id!r}."})
    by_id = {t.pk: t for t in teams.values()}
    node: Team | None = parent
    while node is not None:
        if node.external_id == external_id:
            raise InvalidInputError(
                {"parent": "A team cannot be inside itself (the parents form a cycle)."}
            )
        node = by_id.get(node.parent_id) if node.parent_id else None
    return parent


def team_parent_check(*, tenant: Tenant, external_id: str, parent_external_id: str | None) -> None:
    """Raise the 400 `team_upsert` would raise for this parent, without writing."""
    teams = {t.external_id: t for t in Team.objects.for_tenant(tenant)}
    _checked_parent(teams, external_id, parent_external_id)


def agent_upsert(
    *,
    tenant: Tenant,
    external_id: str,
    display_name: str,
    team_external_id: str | None,
    active: bool = True,
    locale: str = Agent.Locale.EN,
    avatar_url: str | None = None,
) -> tuple[Agent, bool]:
    """Create or replace an agent; a change of team or activity is recorded in its history."""
    team = None
    if team_external_id is not None:
        team = Team.objects.for_tenant(tenant).filter(external_id=team_external_id).first()
        if team is None:
            raise InvalidInputError({"team": f"No team {team_external_id!r}."})
    with transaction.atomic():
        agent = (
            Agent.objects.for_tenant(tenant)
            .select_for_update()
            .filter(external_id=external_id)
            .first()
        )
        created = agent is None
        moved = agent is None or (
            agent.team_id != (team.pk if team else None) or agent.active != active
        )
        if moved:
            # Events are stamped with the team of the moment they occurred: none may be stamped
            # from a history this change is about to extend (core/locks.py). The change's
            # time is read under the lock, so history is in the order changes commit.
            advisory_lock(INGEST_LOCK, tenant.pk, wait_seconds=REQUEST_LOCK_WAIT_SECONDS)
        now = timezone.now()
        if agent is None:
            try:
                with transaction.atomic():
                    agent = Agent.objects.create(
                        tenant=tenant,
                        external_id=external_id,
                        display_name=display_name,
                        team=team,
                        active=active,
                        locale=locale,
                        avatar_url=avatar_url,
                    )
            except IntegrityError:
                agent = (
                    Agent.objects.for_tenant(tenant)
                    .select_for_update()
                    .get(external_id=external_id)
                )
                created = False
            else:
                _record_history(agent, at=now)
                return agent, True
        assert agent is not None
        moved = agent.team_id != (team.pk if team else None) or agent.active != active
        if moved:
            advisory_lock(
                INGEST_LOCK, tenant.pk, wait_seconds=REQUEST_LOCK_WAIT_SECONDS
            )  # no-op when taken above
            now = timezone.now()
        agent.display_name, agent.team, agent.active = display_name, team, active
        agent.locale, agent.avatar_url = locale, avatar_url
        agent.save()
        if moved:
            _record_history(agent, at=now)
        return agent, created


def agent_deactivate(*, agent: Agent) -> Agent:
    """Deactivate an agent: kept with its history, left out of leaderboards."""
    with transaction.atomic():
        locked = Agent.objects.for_tenant(agent.tenant_id).select_for_update().get(pk=agent.pk)
        if locked.active:
            advisory_lock(INGEST_LOCK, locked.tenant_id, wait_seconds=REQUEST_LOCK_WAIT_SECONDS)
            locked.active = False
            locked.save(update_fields=["active", "updated_at"])
            _record_history(locked, at=timezone.now())
        return locked


def _record_history(agent: Agent, *, at: datetime) -> None:
    AgentHistory.objects.create(
        tenant_id=agent.tenant_id,
        agent=agent,
        valid_from=at,
        team_id=agent.team_id,
        active=agent.active,
    )
