"""Our own dead-letter registry: what failed, why, with what, and what it cost.

dramatiq's dead-letter copy is the message as last enqueued, without the final traceback (and
with `throws` there is none), so every failure is recorded here: a hash of JSON entries by id
and an index by failure time. Entries hold the ticket (so it can be requeued), never logged.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import redis
from pydantic import BaseModel, Field

from shared.keys import Keys


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


class DeadLetterRegistry:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def record(self, entry: DeadLetter) -> str:
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._keys.dlq_entries, entry.entry_id, entry.model_dump_json())
        pipe.zadd(self._keys.dlq_index, {entry.entry_id: entry.failed_at_ms})
        pipe.execute()
        return entry.entry_id

    def get(self, entry_id: str) -> DeadLetter | None:
        raw = self._r.hget(self._keys.dlq_entries, entry_id)
        return DeadLetter.model_validate_json(raw) if raw else None

    def size(self) -> int:
        return int(self._r.zcard(self._keys.dlq_index))

    def iter_entries(self, batch: int = 500) -> Iterator[DeadLetter]:
        """Oldest first, `batch` at a time: never the whole registry in memory."""
        start = 0
        while True:
            ids = self._r.zrange(self._keys.dlq_index, start, start + batch - 1)
            if not ids:
                return
            for raw in self._r.hmget(self._keys.dlq_entries, ids):
                if raw:
                    yield DeadLetter.model_validate_json(raw)
            start += batch

    def remove(self, entry_id: str) -> bool:
        pipe = self._r.pipeline(transaction=True)
        pipe.hdel(self._keys.dlq_entries, entry_id)
        pipe.zrem(self._keys.dlq_index, entry_id)
        removed, _ = pipe.execute()
        return bool(removed)


def entry_json(entry: DeadLetter) -> str:
    return json.dumps(entry.model_dump(mode="json"), sort_keys=True)
