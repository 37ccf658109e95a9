"""Live boards in Redis: sorted sets kept by the workers, read in a couple of round trips.

Per board (keys share the tenant's hash tag, so Redis Cluster keeps a tenant on one slot):
* `…:q`  ranked entries: score = value in ascending "best first" order, member = tie-break
  string (boards.member) — so ZRANGE is exactly the listing order;
* `…:n`  not-qualified entries, by volume;
* `…:m`  entity id → its current member (to replace it when the value changes);
* `…:w`  entity id → why it is not qualified;
* `…:ready` set once the board was populated in full: without it, reads go to SQL and a
  populate task is queued (a cold start or a flush repairs itself).
Per tenant, `…:names` holds entity → "external id␟display name" and `…:boards` the board
keys (for clean-ups). Scores are *set* from recomputed standings, never incremented.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from config.redis import get_redis, redis_key
from gamify.leaderboards.boards import Board, Standing, entity_of

TTL_SECONDS = 45 * 86400  # boards of past periods fade away
SEP = "\x1f"
VOLUME_SCALE = Decimal(1000)


def _base(board: Board) -> str:
    return redis_key(f"{{t{board.tenant.pk}}}", "lb", board.entity, board.key)


def _tenant_key(tenant_id: int, suffix: str) -> str:
    return redis_key(f"{{t{tenant_id}}}", suffix)


def available() -> bool:
    return get_redis() is not None


def write(board: Board, entries: Sequence[Standing], *, full: bool) -> None:
    """Store standings: every entry of the board (full) or just these (incremental)."""
    client = get_redis()
    if client is None:
        return
    base = _base(board)
    q, n, m, w = f"{base}:q", f"{base}:n", f"{base}:m", f"{base}:w"
    old: list[Any] = []
    if not full and entries:
        old = client.hmget(m, [e.entity_id for e in entries])
    pipe = client.pipeline(transaction=True)
    if full:
        pipe.delete(q, n, m, w)
    stale = [o for o in old if o is not None]
    if stale:
        pipe.zrem(q, *stale)
        pipe.zrem(n, *stale)
    ranked = {e.member: e.score for e in entries if e.qualified}
    unranked = {e.member: e.score for e in entries if not e.qualified}
    if ranked:
        pipe.zadd(q, ranked)
    if unranked:
        pipe.zadd(n, unranked)
        pipe.hset(
            w,
            mapping={
                e.entity_id: f"{'' if e.value is None else repr(e.value)}{SEP}{e.reason}"
                for e in entries
                if not e.qualified
            },
        )
    if entries:
        pipe.hset(m, mapping={e.entity_id: e.member for e in entries})
        pipe.hset(
            _tenant_key(board.tenant.pk, f"names:{board.entity}"),
            mapping={e.entity_id: f"{e.external_id}{SEP}{e.name}" for e in entries},
        )
    if full:
        pipe.set(f"{base}:ready", "1")
    for key in (q, n, m, w, f"{base}:ready"):
        pipe.expire(key, TTL_SECONDS)
    pipe.sadd(_tenant_key(board.tenant.pk, "boards"), base)
    pipe.execute()


def remove(board: Board, entity_ids: Iterable[int]) -> None:
    """Take entities off a board (they left the board's participants or lost all activity)."""
    client = get_redis()
    ids = list(entity_ids)
    if client is None or not ids:
        return
    base = _base(board)
    members = [x for x in client.hmget(f"{base}:m", ids) if x is not None]
    pipe = client.pipeline(transaction=True)
    if members:
        pipe.zrem(f"{base}:q", *members)
        pipe.zrem(f"{base}:n", *members)
    pipe.hdel(f"{base}:m", *ids)
    pipe.hdel(f"{base}:w", *ids)
    pipe.execute()


def forget_agent(tenant_id: int, agent_id: int) -> None:
    """An agent was deactivated: off every live board of the tenant."""
    client = get_redis()
    if client is None:
        return
    for raw in client.smembers(_tenant_key(tenant_id, "boards")):
        base = raw.decode() if isinstance(raw, bytes) else str(raw)
        if ":agent:" not in base:
            continue
        old = client.hget(f"{base}:m", agent_id)
        pipe = client.pipeline(transaction=True)
        if old is not None:
            pipe.zrem(f"{base}:q", old)
            pipe.zrem(f"{base}:n", old)
        pipe.hdel(f"{base}:m", agent_id)
        pipe.execute()


def rename(tenant_id: int, entity: str, entity_id: int, external_id: str, name: str) -> None:
    client = get_redis()
    if client is not None:
        client.hset(
            _tenant_key(tenant_id, f"names:{entity}"), entity_id, f"{external_id}{SEP}{name}"
        )


def is_ready(board: Board) -> bool:
    client = get_redis()
    return client is not None and bool(client.exists(f"{_base(board)}:ready"))


def _decode(
    pairs: Sequence[tuple[bytes, float]], names: dict[int, tuple[str, str]], better: bool
) -> list[Standing]:
    out = []
    for raw, score in pairs:
        text = raw.decode()
        entity_id = entity_of(text)
        external_id, name = names.get(entity_id, (str(entity_id), str(entity_id)))
        inverted = int(text.split("|", 1)[0])
        volume = (Decimal(10**16 - 1 - inverted) / VOLUME_SCALE).normalize()
        standing = Standing(
            entity_id=entity_id,
            external_id=external_id,
            name=name,
            value=None,
            volume=volume,
            qualified=True,
            member=text,
            score=score,
        )
        out.append(standing)
    return out


def read(
    board: Board,
    *,
    limit: int,
    better: bool,
    around: int | None = None,
    around_size: int = 2,
) -> tuple[list[Standing], list[Standing], list[Standing]] | None:
    """(top entries, not-qualified entries, entries around one agent), or None when the board
    is not (yet) in Redis. Two round trips; no SQL."""
    client = get_redis()
    if client is None:
        return None
    base = _base(board)
    pipe = client.pipeline(transaction=False)
    pipe.exists(f"{base}:ready")
    pipe.zrange(f"{base}:q", 0, limit - 1, withscores=True)
    pipe.zrange(f"{base}:n", 0, limit - 1, withscores=True)
    pipe.hget(f"{base}:m", around) if around is not None else pipe.echo(b"")
    ready, top, unranked, around_member = pipe.execute()
    if not ready:
        return None
    window: list[tuple[bytes, float]] = []
    first_rank = None
    pipe = client.pipeline(transaction=False)
    position = None
    if around is not None and around_member:
        pipe.zrank(f"{base}:q", around_member)
        (position,) = pipe.execute()
        pipe = client.pipeline(transaction=False)
    if position is not None:
        start = max(0, position - around_size)
        pipe.zrange(f"{base}:q", start, position + around_size, withscores=True)
    ids = {entity_of(raw.decode()) for raw, _ in top} | {entity_of(r.decode()) for r, _ in unranked}
    reasons_wanted = [entity_of(r.decode()) for r, _ in unranked]
    results = pipe.execute() if position is not None else []
    if position is not None:
        window = results[0]
        ids |= {entity_of(raw.decode()) for raw, _ in window}
        if window:
            first_score = window[0][1]
            pipe = client.pipeline(transaction=False)
            pipe.zcount(f"{base}:q", "-inf", f"({first_score!r}")
            (better_count,) = pipe.execute()
            first_rank = better_count + 1
    names_key = _tenant_key(board.tenant.pk, f"names:{board.entity}")
    pipe = client.pipeline(transaction=False)
    pipe.hmget(names_key, list(ids)) if ids else pipe.echo(b"")
    pipe.hmget(f"{base}:w", reasons_wanted) if reasons_wanted else pipe.echo(b"")
    raw_names, raw_reasons = pipe.execute()
    names: dict[int, tuple[str, str]] = {}
    if ids:
        for entity_id, raw in zip(list(ids), raw_names, strict=True):
            if raw is not None:
                ext, _, name = raw.decode().partition(SEP)
                names[entity_id] = (ext, name)
    ranked = _with_values(_decode(top, names, better), better, start=0, first_rank=1)
    window_start = max(0, position - around_size) if position is not None else 0
    nearby = _with_values(
        _decode(window, names, better), better, start=window_start, first_rank=first_rank or 1
    )
    not_qualified = _decode(unranked, names, better)
    reasons = dict(zip(reasons_wanted, raw_reasons or [], strict=False))
    for entry in not_qualified:
        entry.qualified = False
        value, _, reason = (reasons.get(entry.entity_id) or b"").decode().partition(SEP)
        entry.value = float(value) if value else None
        entry.reason = reason
    return ranked, not_qualified, nearby


def _with_values(
    entries: list[Standing], better: bool, *, start: int, first_rank: int
) -> list[Standing]:
    """Values from scores, and competition ranks (1, 2, 2, 4): an entry starting a new score
    ranks at its position; the first of a window takes the rank of its whole tie group."""
    previous: float | None = None
    for offset, entry in enumerate(entries):
        entry.value = (-entry.score if better else entry.score) + 0.0  # no -0.0
        if offset == 0:
            entry.rank = first_rank
        elif entry.score == previous:
            entry.rank = entries[offset - 1].rank
        else:
            entry.rank = start + offset + 1
        previous = entry.score
    return entries
