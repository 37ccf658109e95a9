"""Recording audit entries. Services call `audit_record` in the transaction of the change they
audit, so an entry exists exactly when the change does, whichever path (admin, API, command)
made it."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import models

from accounts.audit.context import Actor, current_actor
from accounts.audit.models import AuditAction, AuditEntry
from accounts.models import Tenant

REPR_LENGTH = 200


def jsonable(value: Any) -> Any:
    """A value as JSON keeps it: Decimals as exact strings, times in ISO 8601, rows by id."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [jsonable(v) for v in value]
    return str(value)


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of an object (or a mapping) as JSON."""
    if isinstance(obj, Mapping):
        return {name: jsonable(obj.get(name)) for name in fields}
    return {name: jsonable(getattr(obj, name, None)) for name in fields}


def audit_record(
    *,
    tenant: Tenant | int,
    action: str,
    object_type: str,
    object_id: Any,
    object_repr: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEntry | None:
    """Append one entry for the current actor. An update keeps only the fields that changed,
    and an update that changed nothing is not recorded.

    `actor` is for services that already receive their caller's credential (a grant's
    `actor=`): when it names someone else than the current actor, it wins.
    """
    old = jsonable(before) if before is not None else None
    new = jsonable(after) if after is not None else None
    if action == AuditAction.UPDATE and old is not None and new is not None:
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        if not changed:
            return None
        old = {k: old.get(k) for k in changed}
        new = {k: new.get(k) for k in changed}
    who = current_actor()
    if actor and actor != who.id:
        who = Actor(actor, actor)
    return AuditEntry.objects.create(
        tenant_id=tenant if isinstance(tenant, int) else tenant.pk,
        actor=who.id[:160],
        actor_name=who.name[:160],
        actor_kind=who.kind,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:160],
        object_repr=str(object_repr)[:REPR_LENGTH],
        before=old,
        after=new,
    )
