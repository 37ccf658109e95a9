"""Live boards in Redis: sorted sets kept by the workers, read in a couple of round trips.

Per board (keys share the tenant's hash tag, so Redis Cluster keeps a tenant on one slot):
* `…:q`  ranked entries: score = value in ascending "best first" order, member = tie-break
  string (boards.member) — so ZRANGE is exactly the listing order;
* `…:n`  not-qualified entries, by volume;
* `…:m`  entity id → its current member (to replace it when the value changes);
* `…:w`  entity id → why it is not qualified;
* `…:ready` set once the board was populated in full: without it, reads go to SQL and a
  populate task is queued (a cold start or a flush repairs itself);
* `…:populating` while that task is queued: however many read the board meanwhile, one task.
Per tenant, `…:names` holds entity → "external id␟display name", `…:boards` the board
keys (for clean-ups) and `…:wanted` the keys of boards read while not live, which the tenant's
next apply run fills (see `want`). Scores are *set* from recomputed standings, never
incremented.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import redis

from core.redis import get_redis, redis_key, run_script
from gamify.leaderboards.boards import VOLUME_OFFSET_E3, Board, Standing, plain_number

TTL_SECONDS = 45 * 86400  # boards of past periods fade away
SEP = "\x1f"
VOLUME_SCALE = Decimal(1000)


def board_key(board: Board) -> str:
    """The prefix of the board's keys in Redis."""
    # "lb2": members encode volumes as boards.member does since negative volumes were allowed;
    # boards kept under "lb" by an earlier version are left to expire, and refilled on read.
    return redis_key(f"{{t{board.tenant.pk}}}", "lb2", board.entity, board.key)


def _tenant_key(tenant_id: int, suffix: str) -> str:
    return redis_key(f"{{t{tenant_id}}}", suffix)


log = logging.getLogger(__name__)


@contextmanager
def tolerated(what: str) -> Iterator[None]:
    """Skip `what` while Redis is unreachable (logged): reads are then answered from SQL,
    and the boards are repaired from SQL once it is back (a read repopulates them)."""
    try:
        yield
    except redis.RedisError:
        skipped(what)


def skipped(what: str) -> None:
    log.warning("Redis unavailable: %s skipped", what, exc_info=True)


def available() -> bool:
    return get_redis() is not None


def write(board: Board, entries: Sequence[Standing], *, full: bool) -> None:
    """Store standings: every entry of the board (full) or just these (incremental)."""
    client = get_redis()
    if client is None:
        return
    base = board_key(board)
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
        pipe.hset(
            _tenant_key(board.tenant.pk, f"ids:{board.entity}"),
            mapping={e.external_id: e.entity_id for e in entries},
        )
    if full:
        pipe.set(f"{base}:ready", "1")
        pipe.delete(populating_key(board))  # filled: a later unready may ask at once
    for key in (q, n, m, w, f"{base}:ready"):
        pipe.expire(key, TTL_SECONDS)
    pipe.sadd(_tenant_key(board.tenant.pk, "boards"), base)
    pipe.execute()


def populating_key(board: Board) -> str:
    return f"{board_key(board)}:populating"


WANTED_TTL_SECONDS = 86400


def want(board: Board) -> bool:
    """Note a read of a board that is not live: the tenant's next apply run fills it (under
    sustained ingestion every worker can be busy applying, and a populate task waits behind
    them until ingestion pauses). True when no populate task is queued for it yet."""
    client = get_redis()
    if client is None:
        return False
    wanted = _tenant_key(board.tenant.pk, "wanted")
    pipe = client.pipeline(transaction=False)
    pipe.sadd(wanted, board.key)
    pipe.expire(wanted, WANTED_TTL_SECONDS)
    pipe.set(populating_key(board), "1", nx=True, ex=60)
    return bool(pipe.execute()[2])


def wanted_take(tenant_id: int) -> list[str]:
    """The keys of the tenant's boards read while not live, taken off the list (one round
    trip; none when nobody asked)."""
    client = get_redis()
    if client is None:
        return []
    wanted = _tenant_key(tenant_id, "wanted")
    pipe = client.pipeline(transaction=True)
    pipe.smembers(wanted)
    pipe.delete(wanted)
    members = pipe.execute()[0]
    return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)


def remove(board: Board, entity_ids: Iterable[int]) -> None:
    """Take entities off a board (they left the board's participants or lost all activity)."""
    client = get_redis()
    ids = list(entity_ids)
    if client is None or not ids:
        return
    base = board_key(board)
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


def unready_tenant(tenant_id: int) -> None:
    """Every live board of the tenant (contests' too) is answered from SQL, and refilled, at
    its next read: for when what Redis holds may no longer be what SQL holds."""
    client = get_redis()
    if client is None:
        return
    bases = [
        raw.decode() if isinstance(raw, bytes) else str(raw)
        for raw in client.smembers(_tenant_key(tenant_id, "boards"))
    ]
    if bases:
        client.delete(*(f"{base}:ready" for base in bases))


def rename(tenant_id: int, entity: str, entity_id: int, external_id: str, name: str) -> None:
    client = get_redis()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        pipe.hset(_tenant_key(tenant_id, f"names:{entity}"), entity_id, f"{external_id}{SEP}{name}")
        pipe.hset(_tenant_key(tenant_id, f"ids:{entity}"), external_id, entity_id)
        pipe.execute()


def ready(boards: Sequence[Board]) -> list[bool]:
    """Which of these boards are live (populated in full): one round trip."""
    client = get_redis()
    if client is None or not boards:
        return [False] * len(boards)
    return [flag is not None for flag in client.mget([f"{board_key(b)}:ready" for b in boards])]


def is_ready(board: Board) -> bool:
    client = get_redis()
    return client is not None and bool(client.exists(f"{board_key(board)}:ready"))


Part = tuple[int, str, str, Decimal | int, float]  # entity id, external id, name, volume, score


def _parts(
    flat: Sequence[bytes], ids: Sequence[bytes], names: Sequence[bytes | None], first: int
) -> list[Part]:
    """Entries of a flat [member, score, member, score …] reply; `ids` and `names` list the
    entities of the whole reply in order, this part's first at `first`. Runs for every entry
    of every board read: positional, and no Decimal arithmetic for whole volumes."""
    out: list[Part] = []
    for i in range(0, len(flat), 2):
        entity_id = int(ids[first])
        known = names[first]
        first += 1
        if known is None:
            external_id = name = str(entity_id)
        else:
            external_id, _, name = known.decode().partition(SEP)
        # A member starts with the volume in thousandths, inverted (boards.member).
        thousandths = VOLUME_OFFSET_E3 - int(flat[i][:16])
        whole, fraction = divmod(thousandths, 1000)
        volume = whole if not fraction else (Decimal(thousandths) / VOLUME_SCALE).normalize()
        out.append((entity_id, external_id, name, volume, float(flat[i + 1])))
    return out


Ranked = tuple[int, float, Part]  # rank, value, entry
Unranked = tuple[float | None, str, Part]  # value, reason, entry


def _ranked(parts: list[Part], better: bool, start: int, first_rank: int) -> list[Ranked]:
    """Competition ranks (1, 2, 2, 4) and values of consecutive entries: an entry starting a
    new score ranks at its position; the first of a window takes the rank of its tie group."""
    out: list[Ranked] = []
    previous = None
    for offset, part in enumerate(parts):
        score = part[4]
        if offset == 0:
            rank = first_rank
        elif score != previous:
            rank = start + offset + 1
        out.append((rank, (-score if better else score) + 0.0, part))  # + 0.0: no -0.0
        previous = score
    return out


def _unranked(parts: list[Part], reasons: list[bytes | None]) -> list[Unranked]:
    out: list[Unranked] = []
    for part, raw in zip(parts, reasons, strict=True):
        value, _, reason = (raw or b"").decode().partition(SEP)
        out.append((float(value) if value else None, reason, part))
    return out


# One round trip for a whole board read: top entries, not-qualified entries, the window around
# one entity (found by external id), its rank, and the names and reasons of everyone listed.
# Every key carries the tenant's hash tag, so the script also runs on Redis Cluster. Kept lean:
# it runs inside Redis for every board read. Members are "volume|name key|id" and a name key
# holds no "|" (boards.member), so an id starts after the second "|", at byte 18 or later.
READ_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local limit = tonumber(ARGV[1])
local top = redis.call('ZRANGE', KEYS[2], 0, limit - 1, 'WITHSCORES')
local unranked = redis.call('ZRANGE', KEYS[3], 0, limit - 1, 'WITHSCORES')
local window, start, first_rank = {}, 0, 0
if ARGV[2] ~= '' then
  local id = redis.call('HGET', KEYS[7], ARGV[2])
  local member = id and redis.call('HGET', KEYS[4], id)
  local position = member and redis.call('ZRANK', KEYS[2], member)
  if position then
    local size = tonumber(ARGV[3])
    start = math.max(0, position - size)
    window = redis.call('ZRANGE', KEYS[2], start, position + size, 'WITHSCORES')
    if #window > 0 then
      first_rank = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. window[2]) + 1
    end
  end
end
local ids, n = {}, 0
for _, list in ipairs({unranked, top, window}) do
  for i = 1, #list, 2 do
    local m = list[i]
    n = n + 1
    ids[n] = string.sub(m, string.find(m, '|', 18, true) + 1)
  end
end
if n == 0 then return {1, top, unranked, window, start, first_rank, ids, {}, {}} end
local reasons = {}
if #unranked > 0 then reasons = redis.call('HMGET', KEYS[5], unpack(ids, 1, #unranked / 2)) end
local names = redis.call('HMGET', KEYS[6], unpack(ids))
return {1, top, unranked, window, start, first_rank, ids, names, reasons}
"""


# One entity's competition rank on several boards in one round trip: per board (ready, q, m
# keys) -1 when the board is not live, 0 when the entity has no ranked entry, else its rank
# (1 + the entries scoring strictly better; q is kept best first, so "better" is lower).
RANKS_SCRIPT = """
local out = {}
for i = 1, #KEYS, 3 do
  local rank = -1
  if redis.call('EXISTS', KEYS[i]) == 1 then
    rank = 0
    local member = redis.call('HGET', KEYS[i + 2], ARGV[1])
    local score = member and redis.call('ZSCORE', KEYS[i + 1], member)
    if score then rank = redis.call('ZCOUNT', KEYS[i + 1], '-inf', '(' .. score) + 1 end
  end
  out[#out + 1] = rank
end
return out
"""
NOT_LIVE = -1


def ranks(boards: Sequence[Board], entity_id: int) -> list[int | None]:
    """The entity's rank on each board (None: not ranked there), or NOT_LIVE for a board
    Redis does not hold (the caller reads that one from SQL). One round trip, no SQL."""
    client = get_redis()
    if client is None or not boards:
        return [NOT_LIVE] * len(boards)
    try:
        found = run_script(client, RANKS_SCRIPT, ranks_keys(boards), [entity_id])
    except redis.RedisError:
        skipped("live ranks")
        return [NOT_LIVE] * len(boards)
    return ranks_answer(found)


def ranks_keys(boards: Sequence[Board]) -> list[str]:
    """RANKS_SCRIPT's keys for these boards (for a caller sending it with other reads)."""
    keys = []
    for board in boards:
        base = board_key(board)
        keys += [f"{base}:ready", f"{base}:q", f"{base}:m"]
    return keys


def ranks_answer(found: Sequence[int]) -> list[int | None]:
    return [None if r == 0 else int(r) for r in found]


@dataclass(frozen=True, slots=True)
class Reply:
    """A board as Redis holds it: top entries, not-qualified ones and the window around one
    entity, ranked, with values and reasons."""

    top: list[Ranked]
    unranked: list[Unranked]
    window: list[Ranked]

    def standings(self) -> tuple[list[Standing], list[Standing], list[Standing]]:
        """(ranked, not qualified, around) as Standings: what contests and tests compare."""

        def ranked(entries: list[Ranked]) -> list[Standing]:
            return [
                Standing(i, ext, name, value, Decimal(volume), True, "", rank=rank, score=score)
                for rank, value, (i, ext, name, volume, score) in entries
            ]

        return (
            ranked(self.top),
            [
                Standing(i, ext, name, value, Decimal(volume), False, reason, score=score)
                for value, reason, (i, ext, name, volume, score) in self.unranked
            ],
            ranked(self.window),
        )

    def rows(self, entity: str) -> tuple[list[dict[str, Any]], ...]:
        """(entries, around, not_qualified) as GET /leaderboards lists them."""

        def ranked(entries: list[Ranked]) -> list[dict[str, Any]]:
            return [
                {"rank": rank, entity: ext, "display_name": name,
                 "value": plain_number(value), "volume": plain_number(volume)}
                for rank, value, (_, ext, name, volume, _) in entries
            ]  # fmt: skip

        return (
            ranked(self.top),
            ranked(self.window),
            [
                {
                    entity: ext,
                    "display_name": name,
                    "value": plain_number(value) if value is not None else None,
                    "volume": plain_number(volume),
                    "reason": reason,
                }
                for value, reason, (_, ext, name, volume, _) in self.unranked
            ],
        )


def read(
    board: Board,
    *,
    limit: int,
    better: bool,
    around: str | None = None,
    around_size: int = 2,
) -> Reply | None:
    """The board's top `limit` entries and not-qualified ones, and the entries around one
    entity (by external id), or None when the board is not (yet) in Redis, or Redis is down.
    One round trip; no SQL."""
    client = get_redis()
    if client is None:
        return None
    base = board_key(board)
    tenant_id = board.tenant.pk
    keys = [
        f"{base}:ready", f"{base}:q", f"{base}:n", f"{base}:m", f"{base}:w",
        _tenant_key(tenant_id, f"names:{board.entity}"),
        _tenant_key(tenant_id, f"ids:{board.entity}"),
    ]  # fmt: skip
    try:
        result = run_script(client, READ_SCRIPT, keys, [limit, around or "", around_size])
    except redis.RedisError:  # as `tolerated`, without its cost on every read
        skipped(f"live read of {base}")
        return None
    if not result or not result[0]:
        return None
    _, top, unranked, window, start, first_rank, ids, names, reasons = result
    n_unranked, n_top = len(unranked) // 2, len(top) // 2
    return Reply(
        top=_ranked(_parts(top, ids, names, n_unranked), better, 0, 1),
        unranked=_unranked(_parts(unranked, ids, names, 0), reasons),
        window=_ranked(
            _parts(window, ids, names, n_unranked + n_top), better, start, first_rank or 1
        ),
    )
