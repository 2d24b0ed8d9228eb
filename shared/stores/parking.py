"""The parking lot: deferred tickets wait here, by release time, not in dramatiq's delay queue.

dramatiq's delayed messages sit unacked in a worker's memory until their eta; a ticket
deferred until midnight must not. Parked messages live in Redis: a sorted set by release time
(`<ns>:parked`, member `<lane>|<message id>|<park nonce>`) and a hash of encoded messages.
Release is two-phase so a crash between "taken out" and "enqueued" loses nothing: members move to an
in-flight set first and are only deleted after the broker accepted them; in-flight members
older than `INFLIGHT_TIMEOUT_MS` go back to the lot. Each park gets its own member (the nonce):
a released ticket can be re-parked by a fast worker before the release has cleaned up, and
the cleanup must not delete the new parking. A ticket released twice is harmless: the
actor does nothing for an event that already has a final outcome, and admission reuses an
open reservation.

The live line: live tickets waiting for the pace under the first-response SLO
(workers/admission/slo.py) park with their acceptance time less `LINE_OFFSET_MS` as score.
Below every real release time, they are always due and come out first, oldest first, as
the bucket can pay; `line_length` counts them, and releasing what is due at
`now - LINE_OFFSET_MS - d` releases exactly those accepted `d` or more ago.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast
from uuid import uuid4

import dramatiq
import redis

from shared.keys import Keys
from shared.lua import lua_source
from shared.messages import STICKY_OPTIONS
from shared.models import Lane

log = logging.getLogger("paceline.parking")

INFLIGHT_TIMEOUT_MS = 60_000
# Largest batch the bulk path moves at once (Lua's unpack has a stack limit near 8,000).
BULK_MAX = 1_000
LANE_ORDER = (Lane.LIVE, Lane.REDRIVE, Lane.REPLAY)
PACKAGE = "shared.stores"  # where the scripts live
# Scores of the live line (about -1.8e13 today): exact in a double, far below any epoch ms.
LINE_OFFSET_MS = 2 * 10**13


def parkable(message: Any, **options: Any) -> dramatiq.Message[Any]:
    """The message as it should wait: same id and arguments, only the options we keep
    (never a stale reservation or a broker's delivery id)."""
    for name in STICKY_OPTIONS:
        if name in message.options and name not in options:
            options[name] = message.options[name]
    return dramatiq.Message(
        queue_name=message.queue_name,
        actor_name=message.actor_name,
        args=message.args,
        kwargs=message.kwargs,
        options=options,
        message_id=message.message_id,
        message_timestamp=message.message_timestamp,
    )


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
        self._take = client.register_script(
            lua_source(PACKAGE, "parking_scan_due", "parking_take_due")
        )
        self._recover = client.register_script(lua_source(PACKAGE, "parking_recover"))
        self._take_bulk = client.register_script(
            lua_source(PACKAGE, "parking_scan_due", "parking_take_due_bulk")
        )

    @property
    def _inflight(self) -> str:
        return self._keys.parked_inflight

    @property
    def _reasons(self) -> str:
        return self._keys.parked_reasons

    def park(self, message: dramatiq.Message[Any], lane: Lane, release_ms: int, reason: str) -> str:
        member = f"{lane.value}|{message.message_id}|{uuid.uuid4().hex[:8]}"
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._keys.parked_messages, member, message.encode().decode())
        pipe.hset(self._reasons, member, reason)
        pipe.zadd(self._keys.parked, {member: release_ms})
        pipe.execute()
        return member

    def park_in_line(self, message: dramatiq.Message[Any], accepted_ms: int, reason: str) -> str:
        """Park a live ticket in the live line, in order of acceptance."""
        return self.park(message, Lane.LIVE, accepted_ms - LINE_OFFSET_MS, reason)

    def line_length(self) -> int:
        return int(self._r.zcount(self._keys.parked, "-inf", "(0"))

    def size(self) -> int:
        return int(self._r.zcard(self._keys.parked)) + int(self._r.zcard(self._inflight))

    def counts_by_lane(self) -> dict[str, int]:
        counts = {lane.value: 0 for lane in Lane}
        for member, _score in cast(
            Iterable[tuple[str, float]], self._r.zscan_iter(self._keys.parked, count=1000)
        ):
            counts[member.split("|", 1)[0]] += 1
        return counts

    def entries(self, limit: int = 100) -> list[ParkedEntry]:
        rows = cast(
            list[tuple[str, float]],
            self._r.zrange(self._keys.parked, 0, limit - 1, withscores=True),
        )
        reasons = cast(
            list[str | None], self._r.hmget(self._reasons, [m for m, _ in rows]) if rows else []
        )
        # A ticket in the live line shows when it joined it (it is due already).
        return [
            ParkedEntry(
                m,
                Lane(m.split("|", 1)[0]),
                int(score) + (LINE_OFFSET_MS if score < 0 else 0),
                reason or "",
            )
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
            encoded = cast(list[str | None], self._r.hmget(self._keys.parked_messages, members))
            done: list[str] = []
            for member, raw in zip(members, encoded, strict=True):
                if raw is None:
                    log.error("parked member %s had no message; skipped", member)
                else:
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

    def release_due_into_redis(
        self,
        now_ms: int,
        dramatiq_namespace: str,
        *,
        limit: int = 500,
        lanes: Iterable[Lane] = LANE_ORDER,
    ) -> dict[str, int]:
        """`release_due` for a Redis broker on this same Redis, in a constant number of commands
        per batch: due messages go straight into dramatiq's queue layout (`RPUSH <dq>:<queue>
        <redis_message_id>` + `HSET <dq>:<queue>.msgs <id> <message>`, as its dispatch.lua
        enqueues) in the same MULTI that retires them from the in-flight set, so a crash leaves
        a message either still in flight (recovered later) or enqueued, never both. Added by
        the scheduler for throughput; `release_due` stays the path for RabbitMQ."""
        self._recover(keys=[self._keys.parked, self._inflight], args=[now_ms, INFLIGHT_TIMEOUT_MS])
        released: dict[str, int] = {}
        budget = limit
        for lane in lanes:
            while budget > 0:
                moved = self._move_batch(now_ms, dramatiq_namespace, lane, min(budget, BULK_MAX))
                if moved == 0:
                    break
                released[lane.value] = released.get(lane.value, 0) + moved
                budget -= moved
        return released

    def _move_batch(self, now_ms: int, dramatiq_namespace: str, lane: Lane, limit: int) -> int:
        members, encoded = self._take_bulk(
            keys=[self._keys.parked, self._inflight, self._keys.parked_messages],
            args=[now_ms, limit, lane.value + "|"],
        )
        if not members:
            return 0
        by_queue: dict[str, dict[Any, Any]] = {}
        for raw in encoded:
            if raw is None:
                continue  # already released by an earlier run that died before cleanup
            msg = dramatiq.Message.decode(raw.encode())
            rid = str(uuid4())
            out = msg.copy(options={"redis_message_id": rid}).encode().decode()
            by_queue.setdefault(msg.queue_name, {})[rid] = out
        pipe = self._r.pipeline(transaction=True)
        for queue, msgs in by_queue.items():
            qkey = f"{dramatiq_namespace}:{queue}"
            pipe.hset(qkey + ".msgs", mapping=msgs)
            pipe.rpush(qkey, *msgs)
        pipe.zrem(self._inflight, *members)
        pipe.hdel(self._keys.parked_messages, *members)
        pipe.hdel(self._reasons, *members)
        pipe.execute()
        return len(members)
