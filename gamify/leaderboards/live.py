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
from gamify.leaderboards.boards import MAX_VOLUME_E3, Board, Standing

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
        pipe.hset(
            _tenant_key(board.tenant.pk, f"ids:{board.entity}"),
            mapping={e.external_id: e.entity_id for e in entries},
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
        pipe = client.pipeline(transaction=False)
        pipe.hset(_tenant_key(tenant_id, f"names:{entity}"), entity_id, f"{external_id}{SEP}{name}")
        pipe.hset(_tenant_key(tenant_id, f"ids:{entity}"), external_id, entity_id)
        pipe.execute()


def ready(boards: Sequence[Board]) -> list[bool]:
    """Which of these boards are live (populated in full): one round trip."""
    client = get_redis()
    if client is None or not boards:
        return [False] * len(boards)
    return [flag is not None for flag in client.mget([f"{_base(b)}:ready" for b in boards])]


def is_ready(board: Board) -> bool:
    client = get_redis()
    return client is not None and bool(client.exists(f"{_base(board)}:ready"))


def _decode(flat: Sequence[Any], names: dict[int, tuple[str, str]]) -> list[Standing]:
    """Standings from a flat [member, score, member, score …] reply."""
    out = []
    for i in range(0, len(flat), 2):
        text = flat[i].decode()
        entity_id = int(text[text.rindex("|") + 1 :])
        known = names.get(entity_id)
        external_id, name = known if known is not None else (str(entity_id), str(entity_id))
        thousandths = MAX_VOLUME_E3 - int(text[: text.index("|")])
        whole, fraction = divmod(thousandths, 1000)
        # Whole volumes (contacts, points) are the rule: no Decimal division for them.
        volume = (
            Decimal(whole) if not fraction else (Decimal(thousandths) / VOLUME_SCALE).normalize()
        )
        # Positional: this runs for every entry of every board read.
        out.append(
            Standing(entity_id, external_id, name, None, volume, True, "", text, float(flat[i + 1]))
        )
    return out


# One round trip for a whole board read: top entries, not-qualified entries, the window around
# one entity (found by external id), its rank, and the names and reasons of everyone listed.
# Every key carries the tenant's hash tag, so the script also runs on Redis Cluster.
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
local ids, reason_ids = {}, {}
for _, list in ipairs({top, unranked, window}) do
  for i = 1, #list, 2 do table.insert(ids, string.match(list[i], '|(%d+)$')) end
end
for i = 1, #unranked, 2 do table.insert(reason_ids, string.match(unranked[i], '|(%d+)$')) end
local names, reasons = {}, {}
if #ids > 0 then names = redis.call('HMGET', KEYS[6], unpack(ids)) end
if #reason_ids > 0 then reasons = redis.call('HMGET', KEYS[5], unpack(reason_ids)) end
return {1, top, unranked, window, start, first_rank, ids, names, reasons}
"""


_scripts: dict[int, Any] = {}


def _read_script(client: Any) -> Any:
    """The read script registered once per client (then sent as EVALSHA, not its text)."""
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(READ_SCRIPT)
    return script


def read(
    board: Board,
    *,
    limit: int,
    better: bool,
    around: str | None = None,
    around_size: int = 2,
) -> tuple[list[Standing], list[Standing], list[Standing]] | None:
    """(top entries, not-qualified entries, entries around one entity — by external id), or
    None when the board is not (yet) in Redis. One round trip; no SQL."""
    client = get_redis()
    if client is None:
        return None
    base = _base(board)
    tenant_id = board.tenant.pk
    keys = [
        f"{base}:ready", f"{base}:q", f"{base}:n", f"{base}:m", f"{base}:w",
        _tenant_key(tenant_id, f"names:{board.entity}"),
        _tenant_key(tenant_id, f"ids:{board.entity}"),
    ]  # fmt: skip
    result = _read_script(client)(keys=keys, args=[limit, around or "", around_size])
    if not result or not result[0]:
        return None
    _, top, unranked, window, start, first_rank, ids, raw_names, raw_reasons = result
    names: dict[int, tuple[str, str]] = {}
    for entity_id, raw in zip(ids, raw_names, strict=False):
        if raw is not None:
            ext, _, name = raw.decode().partition(SEP)
            names[int(entity_id)] = (ext, name)
    ranked = _with_values(_decode(top, names), better, start=0, first_rank=1)
    nearby = _with_values(_decode(window, names), better, start=start, first_rank=first_rank or 1)
    not_qualified = _decode(unranked, names)
    for entry, raw in zip(not_qualified, raw_reasons, strict=False):
        entry.qualified = False
        value, _, reason = (raw or b"").decode().partition(SEP)
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
