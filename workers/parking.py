"""The parking lot: deferred tickets wait here, by release time, not in dramatiq's delay queue.

dramatiq's delayed messages sit unacked in a worker's memory until their eta; a ticket
deferred until midnight must not. Parked messages live in Redis: a sorted set by release time
(`<ns>:parked`, member `<lane>|<message id>`) and a hash of encoded messages. Release is
two-phase so a crash between "taken out" and "enqueued" loses nothing: members move to an
in-flight set first and are only deleted after the broker accepted them; in-flight members
older than `INFLIGHT_TIMEOUT_MS` go back to the lot. A ticket released twice is harmless: the
actor does nothing for an event that already has a final outcome, and admission reuses an
open reservation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis

from shared.keys import Keys
from shared.models import Lane

INFLIGHT_TIMEOUT_MS = 60_000
LANE_ORDER = (Lane.LIVE, Lane.REDRIVE, Lane.REPLAY)

# KEYS[1] parked zset  KEYS[2] inflight zset   ARGV: 1 now ms, 2 limit, 3 lane prefix
# Moves up to `limit` due members of one lane to in-flight and returns them.
_TAKE_DUE = """
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 4 * tonumber(ARGV[2]))
for _, m in ipairs(due) do
  if string.sub(m, 1, #ARGV[3]) == ARGV[3] then
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZADD', KEYS[2], ARGV[1], m)
    out[#out + 1] = m
    if #out >= tonumber(ARGV[2]) then break end
  end
end
return out
"""

# KEYS[1] parked  KEYS[2] inflight   ARGV: 1 now ms, 2 timeout ms
_RECOVER = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
for _, m in ipairs(stale) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZADD', KEYS[1], ARGV[1], m)
end
return #stale
"""


@dataclass(frozen=True)
class ParkedEntry:
    member: str
    lane: Lane
    release_ms: int
    reason: str


class ParkingLot:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._take = client.register_script(_TAKE_DUE)
        self._recover = client.register_script(_RECOVER)

    @property
    def _inflight(self) -> str:
        return self._keys.parked + ":inflight"

    @property
    def _reasons(self) -> str:
        return self._keys.parked + ":reason"

    def park(self, message: dramatiq.Message[Any], lane: Lane, release_ms: int, reason: str) -> str:
        member = f"{lane.value}|{message.message_id}"
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._keys.parked_messages, member, message.encode().decode())
        pipe.hset(self._reasons, member, reason)
        pipe.zadd(self._keys.parked, {member: release_ms})
        pipe.execute()
        return member

    def size(self) -> int:
        return int(self._r.zcard(self._keys.parked)) + int(self._r.zcard(self._inflight))

    def counts_by_lane(self) -> dict[str, int]:
        counts = {lane.value: 0 for lane in Lane}
        for member in self._r.zscan_iter(self._keys.parked, count=1000):
            counts[member[0].split("|", 1)[0]] += 1
        return counts

    def entries(self, limit: int = 100) -> list[ParkedEntry]:
        rows = self._r.zrange(self._keys.parked, 0, limit - 1, withscores=True)
        reasons = self._r.hmget(self._reasons, [m for m, _ in rows]) if rows else []
        return [
            ParkedEntry(m, Lane(m.split("|", 1)[0]), int(score), reason or "")
            for (m, score), reason in zip(rows, reasons, strict=True)
        ]

    def next_release_ms(self) -> int | None:
        first = self._r.zrange(self._keys.parked, 0, 0, withscores=True)
        return int(first[0][1]) if first else None

    def release_due(
        self,
        now_ms: int,
        enqueue: Callable[[dramatiq.Message[Any]], object],
        *,
        limit: int = 500,
        lanes: Iterable[Lane] = LANE_ORDER,
    ) -> dict[str, int]:
        """Release due tickets, live first, then redrive, then replay; at most `limit`."""
        self._recover(keys=[self._keys.parked, self._inflight], args=[now_ms, INFLIGHT_TIMEOUT_MS])
        released: dict[str, int] = {}
        budget = limit
        for lane in lanes:
            if budget <= 0:
                break
            members = self._take(
                keys=[self._keys.parked, self._inflight], args=[now_ms, budget, lane.value + "|"]
            )
            if not members:
                continue
            encoded = self._r.hmget(self._keys.parked_messages, members)
            done: list[str] = []
            for member, raw in zip(members, encoded, strict=True):
                if raw is not None:
                    enqueue(dramatiq.Message.decode(raw.encode()))
                done.append(member)
            pipe = self._r.pipeline(transaction=True)
            pipe.zrem(self._inflight, *done)
            pipe.hdel(self._keys.parked_messages, *done)
            pipe.hdel(self._reasons, *done)
            pipe.execute()
            released[lane.value] = len(done)
            budget -= len(done)
        return released
