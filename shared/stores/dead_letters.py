"""Our own dead-letter registry: what failed, why, with what, and what it cost.

dramatiq's dead-letter copy is the message as last enqueued, without the final traceback (and
with `throws` there is none), so every failure is recorded here: a hash of JSON entries by id
(`<ns>:dlq:entries`) and an index by failure time (`<ns>:dlq:index`). Entries hold the ticket
(so it can be requeued), never logged. When dramatiq also holds a copy (a message it nacked:
`<ns>:dq:<queue>.XQ` zset + `.XQ.msgs` hash, keyed by the message's `redis_message_id`),
removing our entry removes that copy too, so the two never disagree.

Every entry recorded, and every removal (requeued, purged, swept, resolved, forgotten), goes
to the history stream in the same MULTI (`shared/history/emit.py`), so the database keeps the
registry's whole history.

Everything streams: the index is walked by a (score, member) cursor in batches, which stays
correct while entries are removed under it (a requeue removes what it has read).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import redis
from pydantic import BaseModel, Field

from shared.clock import Clock, SystemClock, now_ms
from shared.history.emit import dead_letter_fields, dead_letter_gone_fields
from shared.keys import Keys, ticket_key
from shared.models import Lane
from shared.money import micros_to_usd

DAY_MS = 24 * 3600 * 1000
BATCH = 500


class DeadLetter(BaseModel):
    entry_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    ticket_id: str
    event_id: str
    tenant_id: str
    lane: str
    reason: str
    error: str
    traceback: str = ""
    attempts: int = 0
    cost_micros: int = 0
    failed_at_ms: int
    ticket: dict[str, Any]
    message_id: str | None = None
    # Where dramatiq's own dead-letter copy lives, when it made one (nacked messages only).
    redis_message_id: str | None = None
    queue_name: str | None = None
    # Earlier deaths of this ticket event that a requeue sent back, oldest first:
    # {"entry_id", "reason", "attempts", "failed_at_ms"} each.
    history: list[dict[str, Any]] = Field(default_factory=list)
    # A replayed ticket posts no reply unless its replay asked (`replay --post-replies`).
    post_replies: bool | None = None

    @property
    def attempts_total(self) -> int:
        """Attempts over every death of this ticket event, this one included."""
        return self.attempts + sum(int(h.get("attempts", 0)) for h in self.history)

    def as_history(self) -> dict[str, Any]:
        """This entry as one item of the next entry's `history`."""
        return {
            "entry_id": self.entry_id,
            "reason": self.reason,
            "attempts": self.attempts,
            "failed_at_ms": self.failed_at_ms,
        }

    @property
    def source(self) -> str:
        """The ticket's source, read off the kept ticket (generic when it names none)."""
        source = self.ticket.get("source")
        return source if isinstance(source, str) else "generic"

    @property
    def outcome_key(self) -> str:
        """The key of the ticket's outcome."""
        return ticket_key(self.tenant_id, self.source, self.ticket_id)

    def summary(self) -> dict[str, Any]:
        """What a listing shows: never the ticket body, the requester or the traceback."""
        return {
            "entry_id": self.entry_id,
            "ticket_id": self.ticket_id,
            "event_id": self.event_id,
            "tenant_id": self.tenant_id,
            "lane": self.lane,
            "reason": self.reason,
            "error": self.error[:200],
            "attempts": self.attempts,
            "attempts_total": self.attempts_total,
            "requeued_before": len(self.history),
            "cost_micros": self.cost_micros,
            "cost_usd": micros_to_usd(self.cost_micros),
            "failed_at_ms": self.failed_at_ms,
        }


@dataclass(frozen=True)
class DLQFilter:
    """Which entries an operator means; every field optional, all of them must match."""

    reason: str | None = None
    tenant: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    text: str | None = None

    def matches(self, entry: DeadLetter) -> bool:
        if self.reason is not None and entry.reason != self.reason:
            return False
        if self.tenant is not None and entry.tenant_id != self.tenant:
            return False
        if self.text:
            needle = self.text.lower()
            hay = (entry.reason, entry.error, entry.ticket_id)
            if not any(needle in h.lower() for h in hay):
                return False
        return True


class DeadLetterRegistry:
    def __init__(self, client: redis.Redis, keys: Keys, clock: Clock | None = None) -> None:
        self._r = client
        self._keys = keys
        self._clock = clock or SystemClock()

    def record(self, entry: DeadLetter) -> str:
        doc = entry.model_dump_json()
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._keys.dlq_entries, entry.entry_id, doc)
        pipe.zadd(self._keys.dlq_index, {entry.entry_id: entry.failed_at_ms})
        pipe.xadd(self._keys.history_stream, dead_letter_fields(doc))  # type: ignore[arg-type]
        pipe.sadd(self._keys.dlq_reasons, entry.reason)
        pipe.execute()
        return entry.entry_id

    def known_reasons(self) -> set[str]:
        """Every reason code ever recorded here (entries requeued or purged included), so a
        drained reason is "nothing to do" and only a typo is an error."""
        return set(cast(set[str], self._r.smembers(self._keys.dlq_reasons)))

    def get(self, entry_id: str) -> DeadLetter | None:
        raw = self._r.hget(self._keys.dlq_entries, entry_id)
        return DeadLetter.model_validate_json(cast(str, raw)) if raw else None

    def size(self) -> int:
        return int(self._r.zcard(self._keys.dlq_index))

    def iter_ids(
        self, since_ms: int | None = None, until_ms: int | None = None, batch: int = BATCH
    ) -> Iterator[list[str]]:
        """Entry ids oldest first, a batch at a time, by a cursor on (failure ms, id).

        A batch ends on a whole failure-time group, so removing entries already returned never
        makes the walk skip one; entries recorded after `until_ms` are never reached.
        """
        lo: str = "-inf" if since_ms is None else str(since_ms)
        hi: str = "+inf" if until_ms is None else str(until_ms)
        while True:
            rows = self._zrange(lo, hi, batch)
            if not rows:
                return
            if len(rows) < batch:
                yield [m for m, _ in rows]
                return
            last = rows[-1][1]
            head = [m for m, s in rows if s < last]
            # The whole group at the last score (failures in one millisecond: small).
            tail = cast(list[str], self._r.zrangebyscore(self._keys.dlq_index, last, last))
            yield head + tail
            lo = f"({last}"

    def _zrange(self, lo: str, hi: str, batch: int) -> list[tuple[str, int]]:
        rows = cast(
            list[tuple[str, float]],
            self._r.zrangebyscore(
                self._keys.dlq_index, lo, hi, start=0, num=batch, withscores=True
            ),
        )
        return [(m, int(s)) for m, s in rows]

    def iter_entries(
        self, flt: DLQFilter | None = None, batch: int = BATCH
    ) -> Iterator[DeadLetter]:
        """Matching entries, oldest first: never the whole registry in memory."""
        flt = flt or DLQFilter()
        for ids in self.iter_ids(flt.since_ms, flt.until_ms, batch):
            for raw in cast(list[str | None], self._r.hmget(self._keys.dlq_entries, ids)):
                if raw:
                    entry = DeadLetter.model_validate_json(raw)
                    if flt.matches(entry):
                        yield entry

    def find(self, ref: str, batch: int = BATCH) -> list[DeadLetter]:
        """`dlq show`'s lookup: the entry with this id, else those whose id starts with it or
        whose ticket id is it (a scan of the registry: an operator's command, not a hot path)."""
        exact = self.get(ref)
        if exact is not None:
            return [exact]
        found: list[DeadLetter] = []
        for entry_id, raw in self._r.hscan_iter(self._keys.dlq_entries, count=batch):
            if entry_id.startswith(ref) or f'"ticket_id":{_json_str(ref)}' in raw:
                entry = DeadLetter.model_validate_json(raw)
                if entry.entry_id.startswith(ref) or entry.ticket_id == ref:
                    found.append(entry)
        return sorted(found, key=lambda e: (e.failed_at_ms, e.entry_id))

    def reason_counts(self, flt: DLQFilter | None = None) -> Counter[str]:
        """How many entries each reason code has (what `--reason` can name)."""
        return Counter(entry.reason for entry in self.iter_entries(flt))

    def _gone(self, pipe: Any, entry_id: str, how: str, at_ms: int) -> None:
        # Added even when another caller removed it first: the history keeps the first removal.
        gone = dead_letter_gone_fields(entry_id=entry_id, how=how, at_ms=at_ms)
        pipe.xadd(self._keys.history_stream, gone)

    def claim(self, entry: DeadLetter, how: str = "requeued") -> bool:
        """Remove one entry (and dramatiq's copy); True only for the one caller that removed
        it, so two operators draining the same reason never requeue a ticket twice. `how` it
        left (requeued, purged, resolved, forgotten) goes to the history."""
        pipe = self._r.pipeline(transaction=True)
        pipe.zrem(self._keys.dlq_index, entry.entry_id)
        pipe.hdel(self._keys.dlq_entries, entry.entry_id)
        self._gone(pipe, entry.entry_id, how, now_ms(self._clock))
        removed = pipe.execute()[0]
        if removed:
            self.drop_dramatiq_copy(entry)
        return bool(removed)

    def remove(self, entry_id: str, how: str = "purged") -> bool:
        entry = self.get(entry_id)
        if entry is None:
            pipe = self._r.pipeline(transaction=True)
            pipe.zrem(self._keys.dlq_index, entry_id)
            pipe.hdel(self._keys.dlq_entries, entry_id)
            self._gone(pipe, entry_id, how, now_ms(self._clock))
            return bool(pipe.execute()[1])
        return self.claim(entry, how)

    def drop_dramatiq_copy(self, entry: DeadLetter) -> None:
        # Only a message dramatiq nacked has a copy, and FailureRecorder notes its id then;
        # one the actor dead-lettered itself was acked and left none.
        if entry.redis_message_id is None:
            return
        xq = self._keys.dramatiq_dead(entry.queue_name or Lane(entry.lane).queue_name)
        pipe = self._r.pipeline(transaction=True)
        pipe.zrem(xq, entry.redis_message_id)
        pipe.hdel(xq + ".msgs", entry.redis_message_id)
        pipe.execute()

    def sweep(self, now_ms: int, retention_days: int, batch: int = BATCH) -> int:
        """Delete entries older than the retention, `batch` at a time; returns how many."""
        cutoff_ms = now_ms - retention_days * DAY_MS
        removed = 0
        for ids in self.iter_ids(None, cutoff_ms - 1, batch):
            for raw in cast(list[str | None], self._r.hmget(self._keys.dlq_entries, ids)):
                if raw:
                    self.drop_dramatiq_copy(DeadLetter.model_validate_json(raw))
            pipe = self._r.pipeline(transaction=True)
            pipe.zrem(self._keys.dlq_index, *ids)
            pipe.hdel(self._keys.dlq_entries, *ids)
            for entry_id in ids:
                self._gone(pipe, entry_id, "swept", now_ms)
            removed += int(pipe.execute()[0])
        return removed


def _json_str(value: str) -> str:
    """`value` as pydantic writes it in an entry's JSON (a quick pre-filter of a scan)."""
    return json.dumps(value, ensure_ascii=False)
