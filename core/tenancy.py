"""Fail-closed tenancy: a query of tenant-owned rows names its tenant, or it is refused.

The rule (README "Layout", DESIGN.md §3), enforced by `TenantQuerySet` (accounts/models.py)
when a query runs, not by review:

* Inside a **tenant scope** (`tenant_scope(tenant)`), every query of a tenant-owned model is
  filtered to the scope's tenants, whatever the code asked for: a forgotten filter cannot
  leak another tenant's rows. Scopes are entered in one place per entry point: an API
  view's `initial` (`TenantAPIView`), a widget page once its token is resolved, the admin
  (`accounts.scoping.TenantScopeMiddleware`: a manager's tenants) and each Celery task
  that names its tenant in a `tenant_id` argument (config/celery.py re-enters it).
* **Outside a scope**, a query must filter its own model's `tenant` (`for_tenant(...)`,
  `tenant=`, `tenant_id__in=`...) at the top level of its WHERE clause, or come through a
  loaded object's relation (`agent.history.all()`, a prefetch); anything else raises
  `TenantScopeMissing` before it reaches the database. A forgotten filter is an exception
  in tests, not a leak.
* The few jobs that read across tenants on purpose (the sweeper, beat tasks, rebuilds,
  operator commands, a superuser's admin) say so: `Model.objects.unscoped()` for one
  query, `scopes_disabled()` for a block.

Test code itself (`exempt_callers`: tests/) may read any tenant's rows to assert them; the
application code it calls may not.

Raw SQL is outside the rule: its few users (kpis.buckets) take the tenant as a parameter.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from django.db.models import Q
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.sql import Query
from django.db.models.sql.where import AND, OR, WhereNode


class TenantScopeMissing(RuntimeError):
    """A tenant-owned query was built without a tenant: refuse rather than return everything."""


class _Disabled:
    def __repr__(self) -> str:
        return "scopes_disabled"


DISABLED = _Disabled()
# None: no scope (queries must filter their tenant); a frozenset: the tenants in scope;
# DISABLED: an explicit cross-tenant block.
_state: ContextVar[frozenset[int] | _Disabled | None] = ContextVar("gamify_tenant", default=None)
ScopeToken = Token[frozenset[int] | _Disabled | None]


def _ids(tenants: Any) -> frozenset[int]:
    if isinstance(tenants, int) or hasattr(tenants, "pk"):
        tenants = (tenants,)
    ids = frozenset(t if isinstance(t, int) else int(t.pk) for t in tenants)
    if not ids:
        raise ValueError("A tenant scope needs at least one tenant.")
    return ids


def current() -> frozenset[int] | _Disabled | None:
    """The tenants in scope, DISABLED, or None."""
    return _state.get()


def enter(tenants: Any) -> ScopeToken:
    """Enter a scope until `leave(token)` (or the request's end, under the middleware)."""
    return _state.set(_ids(tenants))


def enter_disabled() -> ScopeToken:
    return _state.set(DISABLED)


def leave(token: ScopeToken) -> None:
    _state.reset(token)


@contextmanager
def tenant_scope(tenants: Any) -> Iterator[None]:
    """Queries inside see only these tenants' rows (a tenant, its id, or several)."""
    token = enter(tenants)
    try:
        yield
    finally:
        _state.reset(token)


@contextmanager
def scopes_disabled() -> Iterator[None]:
    """A deliberately cross-tenant block (sweeper, beat, rebuild, operator commands)."""
    token = enter_disabled()
    try:
        yield
    finally:
        _state.reset(token)


@contextmanager
def no_scope() -> Iterator[None]:
    """Back to the default (no scope, nothing disabled): a request's or task's start."""
    token = _state.set(None)
    try:
        yield
    finally:
        _state.reset(token)


# --- the check ----------------------------------------------------------------------------


def _is_tenant_lookup(node: Any, alias: str | None, column: str) -> bool:
    if not isinstance(node, Lookup) or node.lookup_name not in ("exact", "in"):
        return False
    lhs = node.lhs
    return isinstance(lhs, Col) and lhs.alias == alias and lhs.target.column == column


def _constrains(node: Any, alias: str | None, column: str) -> bool:
    """True when every row the WHERE node admits has its tenant column pinned down."""
    if _is_tenant_lookup(node, alias, column):
        return True
    if not isinstance(node, WhereNode) or node.negated or not node.children:
        return False
    if node.connector == AND:
        return any(_constrains(child, alias, column) for child in node.children)
    if node.connector == OR:
        return all(_constrains(child, alias, column) for child in node.children)
    return False


def filters_tenant(query: Query, column: str = "tenant_id") -> bool:
    """Whether a query filters its own model's tenant column at the top of its WHERE."""
    if query.combinator:
        return all(filters_tenant(q, column) for q in query.combined_queries)
    alias = next(iter(query.alias_map), None)
    return _constrains(query.where, alias, column)


def restrict(query: Query, tenant_ids: frozenset[int], field: str = "tenant_id") -> None:
    """Add the scope's filter to a query, in place (just before it runs)."""
    if query.combinator:
        for part in query.combined_queries:
            restrict(part, tenant_ids, field)
        return
    if len(tenant_ids) == 1:
        query.add_q(Q(**{field: next(iter(tenant_ids))}))
    else:
        query.add_q(Q(**{f"{field}__in": sorted(tenant_ids)}))


# --- test code may read across tenants -------------------------------------------------------

_exempt: list[str] = []  # folder prefixes (absolute) of test code
_not_exempt: list[str] = []  # files there that stand for application code
_LIBRARY = (os.path.dirname(os.path.dirname(__file__)) + os.sep + ".venv", "site-packages")


def exempt_callers(folders: Iterable[str], *, except_files: Iterable[str] = ()) -> None:
    """Let test code in these folders query across tenants (tests/conftest.py calls it),
    except in the files named, which stand for application code."""
    _exempt[:] = [os.path.abspath(f) + os.sep for f in folders]
    _not_exempt[:] = [os.path.abspath(f) for f in except_files]


def _first_caller(skip: Iterable[str]) -> str | None:
    """The file and line of the first frame outside Django and the ORM's own wrappers."""
    skipped = (*skip, __file__)
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith("<") or any(p in name for p in _LIBRARY) or name in skipped):
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


def caller_is_exempt(skip: Iterable[str]) -> bool:
    """Whether that first frame is test code (consulted only on the way to raising)."""
    caller = _first_caller(skip)
    if not _exempt or caller is None:
        return False
    name = caller.rpartition(":")[0]
    return name.startswith(tuple(_exempt)) and name not in _not_exempt


def refuse(model: str, skip: Iterable[str]) -> TenantScopeMissing:
    caller = _first_caller(skip)
    return TenantScopeMissing(
        f"{model} queried without a tenant filter outside a tenant scope"
        f"{f' (at {caller})' if caller else ''}: filter it with for_tenant(...), enter "
        "tenant_scope(...), or say unscoped() where crossing tenants is the point"
    )


# --- Celery: a task re-enters the tenant its arguments name -----------------------------------

_task_tokens: dict[str, ScopeToken] = {}


def _task_tenant_id(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    if "tenant_id" in kwargs:
        value = kwargs["tenant_id"]
    else:
        try:
            bound = inspect.signature(task.run).bind_partial(*args, **kwargs)
        except (TypeError, ValueError):
            return None
        value = bound.arguments.get("tenant_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def task_started(task_id: str, task: Any, args: Any, kwargs: Any) -> None:
    """task_prerun: a task naming `tenant_id` runs in that tenant's scope; any other starts
    with no scope (also when run in-process inside a request), exactly as on a worker."""
    tenant_id = _task_tenant_id(task, tuple(args or ()), dict(kwargs or {}))
    _task_tokens[task_id] = _state.set(frozenset({tenant_id}) if tenant_id is not None else None)


def task_finished(task_id: str) -> None:
    """task_postrun: back to the caller's scope."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        _state.reset(token)
