"""Change stamps that let a polling widget be answered 304 without reading the game state.

Every change a page shows stamps a version in the cache: the agent's own (`a`, their points,
badges, wallet, redemptions), the tenant's (`t`, anybody's: ranks, boards, stock) and the
tenant's epoch (`e`, everything recomputed: a rebuild, a contest finished). A stamp is the
time in nanoseconds, so a bump is one SET (no read-modify-write to race).

The stamps only mean something when every process shares the cache (Redis, production). In
the embedded default the game runs in other processes (the simulator, tasks in-process) with
their own local-memory cache, so `shared()` is false and pages always re-render, answering 304
only when the HTML came out the same.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache

from core.redis import get_redis, mget_and_script

# A tenant stamp moves with anybody's change. The card then compares its standings (ranks and
# contests, read from the live boards: no query) with those its last rendering showed, so it
# re-renders only when another agent's event really moved them; the other pages re-render at
# most every 2 s while the tenant changes (views.TOLERANCE).
TIMEOUT = 7 * 86400


def shared() -> bool:
    return bool(settings.REDIS_URL)


def _key(kind: str, tenant_id: int, owner: int = 0) -> str:
    return f"widgets:v:{kind}:{tenant_id}:{owner}"


def bump(tenant_id: int, agent_ids: Iterable[int] = (), *, everything: bool = False) -> None:
    stamp = time.time_ns()
    values = {_key("t", tenant_id): stamp}
    values.update({_key("a", tenant_id, agent_id): stamp for agent_id in agent_ids})
    if everything:
        values[_key("e", tenant_id)] = stamp
    cache.set_many(values, TIMEOUT)


def read(tenant_id: int, agent_id: int | None) -> tuple[int, int, int]:
    """(epoch, tenant, agent) stamps, 0 where none was set (one round trip)."""
    keys = [_key("e", tenant_id), _key("t", tenant_id), _key("a", tenant_id, agent_id or 0)]
    found = cache.get_many(keys)
    return tuple(int(found.get(k) or 0) for k in keys)  # type: ignore[return-value]


def keys(tenant_id: int, agent_id: int | None) -> list[str]:
    return [_key("e", tenant_id), _key("t", tenant_id), _key("a", tenant_id, agent_id or 0)]


def stamps(found: dict[str, object], tenant_id: int, agent_id: int | None) -> tuple[int, int, int]:
    e, t, a = (int(found.get(k) or 0) for k in keys(tenant_id, agent_id))  # type: ignore[call-overload]
    return e, t, a


def read_with_script(
    names: list[str], script: str, script_keys: list[str], args: list[Any]
) -> tuple[dict[str, Any], Any] | None:
    """The cache entries `names` (stamps, a page's state) and a read-only script's answer
    (the live boards' ranks) in one Redis round trip; None when the cache is not django-redis
    on REDIS_URL or Redis failed (the caller then reads them apart, failing open as the cache
    does)."""
    client, backend = get_redis(), getattr(cache, "client", None)
    decode = getattr(backend, "decode", None)
    if client is None or decode is None:
        return None
    try:
        values, answer = mget_and_script(
            client, [cache.make_key(n) for n in names], script, script_keys, args
        )
    except redis.RedisError:
        return None
    found = {n: decode(v) for n, v in zip(names, values, strict=True) if v is not None}
    return found, answer
