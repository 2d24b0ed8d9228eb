"""The outcome store: the one visible state of every accepted ticket (invariant 2).

Each ticket has one hash (`<ns>:ticket:<ticket key>`: `status`, `event_id`, `doc` as JSON), an
index by update time, and per-status counters kept in step by the same Lua script, so
`outcomes summary` is O(1) and a status is never counted twice. A final status for an event is
written once: a duplicate delivery finds it and does nothing.

The ticket key names the tenant and the source as well as the ticket id (`shared.keys`), so
`get` takes that key; `find` looks a bare ticket id up for an operator (a scan of the index).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import redis

from shared.keys import OUTCOME_SWEEP_GRACE_S, TICKET_RETENTION_S, Keys, unscoped
from shared.lua import lua_source
from shared.models import Outcome, OutcomeStatus

# Most index entries one sweep script call deletes (it loops until none are left).
SWEEP_BATCH = 500


def ticket_ttl_s(retention_s: int = TICKET_RETENTION_S) -> int:
    """A ticket hash's TTL: its retention (PACELINE_OUTCOME_RETENTION_S) plus the sweep's grace."""
    return retention_s + OUTCOME_SWEEP_GRACE_S


class OutcomeStore:
    def __init__(
        self, client: redis.Redis, keys: Keys, retention_s: int = TICKET_RETENTION_S
    ) -> None:
        self._r = client
        self._keys = keys
        self._retention_s = retention_s
        self._script = client.register_script(lua_source("shared.stores", "outcomes"))
        self._sweep = client.register_script(lua_source("shared.stores", "outcomes_sweep"))
        # What this thread wrote last: a worker middleware reads what its actor just stored
        # without a round trip (dramatiq runs both in the same thread).
        self._local = threading.local()

    def _write(
        self, outcome: Outcome, mode: str, messages: str = "", conversation: list[Any] | None = None
    ) -> bool:
        doc = outcome.model_dump_json()
        key = outcome.key
        keys = [
            self._keys.ticket(key),
            self._keys.outcomes_index,
            self._keys.outcomes_counts,
            self._keys.history_stream,
        ]
        args: list[Any] = [
            outcome.status.value,
            outcome.event_id,
            doc,
            outcome.updated_at_ms,
            key,
            ticket_ttl_s(self._retention_s),
            mode,
            messages,
        ]
        if conversation:
            keys.append(self._keys.thread(key))
            args.extend(conversation)
        ok = self._script(keys=keys, args=args)
        # A refused write (already final) leaves nothing: the reader then asks Redis.
        self._local.written = outcome if ok else None
        return bool(ok)

    def take_written(self, key: str, job_id: str | None) -> Outcome | None:
        """The outcome this thread last wrote, if it is ticket `key`'s from `job_id`; clears
        it either way, so it never outlives the message that wrote it."""
        written: Outcome | None = getattr(self._local, "written", None)
        self._local.written = None
        if written is not None and written.key == key and written.job_id == job_id:
            return written
        return None

    def mark_pending(self, outcome: Outcome) -> bool:
        """Record an accepted ticket event; no-op when that event is already known."""
        return self._write(outcome, "pending")

    def update(self, outcome: Outcome) -> bool:
        """Move to a non-final state (parked, pending); refused once the event is final."""
        return self._write(outcome, "any")

    def finalize(
        self,
        outcome: Outcome,
        messages: Sequence[Mapping[str, Any]] = (),
        *,
        thread_entry: str = "",
        thread_max: int = 20,
        owner_reason: str = "",
        auto_reply: bool = False,
    ) -> bool:
        """Write a final status once per event; False means it was already final. The outcome
        and `messages` (its thread, `shared/history/emit.py`'s `thread_messages`) go to the
        history stream in the same script. A live conversation's event also appends
        `thread_entry` to the ticket's thread (shared/stores/threads.py), adds its cost to the
        ticket's lifetime spend, counts an automatic reply, and with `owner_reason` hands the
        ticket to a person."""
        assert outcome.status.is_final, outcome.status
        conversation = None
        if thread_entry:
            conversation = [
                thread_entry,
                outcome.cost_micros,
                thread_max,
                owner_reason,
                "1" if auto_reply else "",
            ]
        history = json.dumps(list(messages)) if messages else ""
        return self._write(outcome, "final", history, conversation)

    def force(self, outcome: Outcome) -> bool:
        """Overwrite even a final state: only for an operator's requeue of a dead letter."""
        return self._write(outcome, "force")

    def sweep(self, now_ms: int, batch: int = SWEEP_BATCH) -> int:
        """Delete every final ticket not changed for its retention: its hash, its thread, its
        index entry and its place in the counts, atomically per batch; returns how many. One
        still in flight is kept (its retention starts again). Without it the index and the
        counts would grow for ever (the hash's TTL alone leaves them behind)."""
        cutoff_ms = now_ms - self._retention_s * 1000
        removed = 0
        while True:
            seen, gone = cast(
                list[int],
                self._sweep(
                    keys=[self._keys.outcomes_index, self._keys.outcomes_counts],
                    args=[self._keys.ticket(""), cutoff_ms, batch, now_ms,
                          ticket_ttl_s(self._retention_s), self._keys.thread("")],
                ),
            )  # fmt: skip
            removed += int(gone)
            if int(seen) < batch:
                return removed

    def get(self, key: str) -> Outcome | None:
        """The outcome of the ticket whose key (`shared.keys.ticket_key`) is `key`."""
        doc = self._r.hget(self._keys.ticket(key), "doc")
        return Outcome.model_validate_json(doc) if doc else None

    def status(self, key: str) -> tuple[OutcomeStatus, str] | None:
        status, event = cast(
            list[str | None], self._r.hmget(self._keys.ticket(key), ["status", "event_id"])
        )
        return (OutcomeStatus(status), event or "") if status else None

    def find(self, ticket_id: str, tenant: str | None = None) -> list[Outcome]:
        """Every outcome whose ticket id is `ticket_id` (of `tenant` when given), whatever
        its source: an operator's look-up by the id they know. Walks the index (ZSCAN)."""
        pattern = f"*{len(ticket_id)}:{_glob_escape(ticket_id)}"
        keys: list[str] = []
        for member, _score in self._r.zscan_iter(self._keys.outcomes_index, match=pattern):
            parts = unscoped(member)
            if parts is not None and len(parts) == 3 and parts[2] == ticket_id:
                if tenant is None or parts[0] == tenant:
                    keys.append(member)
        if tenant is None and self._r.zscore(self._keys.outcomes_index, ticket_id) is not None:
            keys.append(ticket_id)  # written before ticket keys named tenant and source
        return list(self._load(keys, None))

    def summary(self) -> dict[str, int]:
        raw = cast(dict[str, str], self._r.hgetall(self._keys.outcomes_counts))
        counts = {s.value: 0 for s in OutcomeStatus}
        for status, n in raw.items():
            counts[status] = max(int(n), 0)
        counts["total"] = sum(counts[s.value] for s in OutcomeStatus)
        return counts

    def iter_keys(
        self, batch: int = 500, *, newest_first: bool = False, since_ms: int | None = None
    ) -> Iterator[str]:
        """Ticket keys by update time (oldest first unless `newest_first`), only those updated
        at or after `since_ms`, in batches (never the whole index at once)."""
        low = "-inf" if since_ms is None else str(since_ms)
        start = 0
        while True:
            if newest_first:
                page = self._r.zrevrangebyscore(
                    self._keys.outcomes_index, "+inf", low, start=start, num=batch
                )
            else:
                page = self._r.zrangebyscore(
                    self._keys.outcomes_index, low, "+inf", start=start, num=batch
                )
            ids = cast(list[str], page)
            if not ids:
                return
            yield from ids
            start += batch

    def iter_outcomes(
        self,
        status: OutcomeStatus | None = None,
        *,
        newest_first: bool = False,
        since_ms: int | None = None,
    ) -> Iterator[Outcome]:
        for _key, outcome in self.iter_stored(status, newest_first=newest_first, since_ms=since_ms):
            yield outcome

    def iter_stored(
        self,
        status: OutcomeStatus | None = None,
        *,
        newest_first: bool = False,
        since_ms: int | None = None,
    ) -> Iterator[tuple[str, Outcome]]:
        """(key it is stored under, outcome): the key of an outcome written before keys named
        tenant and source is its bare ticket id, not `outcome.key`."""
        keys: list[str] = []
        for key in self.iter_keys(newest_first=newest_first, since_ms=since_ms):
            keys.append(key)
            if len(keys) >= 200:
                yield from self._load_stored(keys, status)
                keys = []
        if keys:
            yield from self._load_stored(keys, status)

    def _load(self, keys: list[str], status: OutcomeStatus | None) -> Iterator[Outcome]:
        for _key, outcome in self._load_stored(keys, status):
            yield outcome

    def _load_stored(
        self, keys: list[str], status: OutcomeStatus | None
    ) -> Iterator[tuple[str, Outcome]]:
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.hget(self._keys.ticket(key), "doc")
        for key, doc in zip(keys, pipe.execute(), strict=True):
            if not doc:
                continue
            outcome = Outcome.model_validate_json(doc)
            if status is None or outcome.status == status:
                yield key, outcome


def _glob_escape(text: str) -> str:
    """`text` matched literally by a Redis MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def outcome_json(outcome: Outcome) -> str:
    return json.dumps(outcome.public(), sort_keys=True)
