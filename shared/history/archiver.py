"""`paceline archive`: moves facts from the history stream into the database, losing none.

One step: take entries (first any stranded on a dead archiver, by XAUTOCLAIM once they have
been idle `archive_claim_idle_s`; else new ones, by XREADGROUP in the `archivers` group),
parse them, write the good ones in one transaction, then in one MULTI put the bad ones on
`<ns>:history:rejects` with their reason, XACK and XDEL them all. So an entry leaves the
stream only after its row is committed; a crash between commit and ack redelivers it, and the
natural keys make the second insert a no-op.

While the database is down the batch in hand is kept and tried again with a growing pause
(the stream buffers everything else; workers never wait on the database). A row the database
refuses is found by writing the batch one entry at a time, and only that entry is rejected.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import Engine

from shared.clock import Clock, now_ms
from shared.errors import DatabaseUnavailable, EventRejected
from shared.history.events import Event, parse
from shared.history.retention import sweep_transcripts
from shared.history.writer import HistoryWriter, first_line, is_data_error
from shared.keys import HISTORY_GROUP, HISTORY_REJECTS_KEEP, Keys
from shared.settings import Settings

log = logging.getLogger("paceline.archive")

BLOCK_MS = 1_000
# After a batch smaller than `archive_batch_rows` the loop waits this long before reading
# again, so a trickle of facts is written in batches: a transaction (and an ack) per handful
# of entries would cost the machine the workers share far more than the rows themselves.
LINGER_S = 0.5
RETRY_MIN_S, RETRY_MAX_S = 0.2, 5.0
SWEEP_EVERY_MS = 3600 * 1000
# Consumers of the group that hold nothing and were idle this long are removed (each archiver
# process joins under its own name).
STALE_CONSUMER_MS = 24 * 3600 * 1000

Entry = tuple[str, dict[str, str]]


@dataclass
class StepResult:
    written: int = 0
    rejected: int = 0
    claimed: int = 0


@dataclass
class Archiver:
    settings: Settings
    client: redis.Redis
    engine: Engine
    writer: HistoryWriter
    clock: Clock
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    on_backlog: Any = None  # called with the backlog (entries) after each step
    on_step: Any = None  # called with each step's `StepResult`

    def __post_init__(self) -> None:
        self.keys = Keys(self.settings.namespace)
        self._held: list[Entry] = []
        self._next_claim_ms = 0
        self._next_sweep_ms = 0
        self._down_since_ms: int | None = None

    # --- the group ----------------------------------------------------------------------
    def ensure_group(self) -> None:
        """Create the consumer group at the stream's start (entries added before any archiver
        ran are archived too); an existing group is kept."""
        try:
            self.client.xgroup_create(
                self.keys.history_stream, HISTORY_GROUP, id="0", mkstream=True
            )
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def backlog(self) -> int:
        """Entries not yet archived (archived ones are deleted from the stream)."""
        return int(self.client.xlen(self.keys.history_stream))

    # --- the loop -----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Steps until `stop` is set; pauses (growing, capped) while the database or Redis is
        away. Raises `HistoryError` for what waiting cannot fix (the schema is wrong)."""
        self.ensure_group()
        pause_s = RETRY_MIN_S
        while not stop.is_set():
            try:
                result = self.step()
                if self.on_step is not None:
                    self.on_step(result)
                pause_s = RETRY_MIN_S
                taken = result.written + result.rejected
                if 0 < taken < self.settings.archive_batch_rows:
                    stop.wait(LINGER_S)
                continue
            except DatabaseUnavailable as exc:
                self._note_down(str(exc))
            except redis.RedisError as exc:
                log.warning("redis unavailable: %s", first_line(exc))
            stop.wait(pause_s)
            pause_s = min(pause_s * 2, RETRY_MAX_S)

    def step(self, block_ms: int | None = BLOCK_MS) -> StepResult:
        """One batch: take, parse, write, then reject/ack/delete in one MULTI. `block_ms`:
        how long to wait for new entries (None: not at all)."""
        result = StepResult()
        if not self._held:
            self._held, result.claimed = self._take(block_ms)
        if not self._held:
            self._maintain()
            return result
        good: list[tuple[str, Event]] = []
        bad: list[tuple[Entry, str]] = []
        for entry in self._held:
            try:
                good.append((entry[0], parse(entry[1])))
            except EventRejected as exc:
                bad.append((entry, str(exc)))
        bad += self._commit(good)
        self._finish([e[0] for e in self._held], bad)
        result.written, result.rejected = len(self._held) - len(bad), len(bad)
        self._held = []
        if self._down_since_ms is not None:
            log.info("history database back; archiving resumed")
            self._down_since_ms = None
        self._maintain()
        return result

    def _take(self, block_ms: int | None) -> tuple[list[Entry], int]:
        k, batch = self.keys, self.settings.archive_batch_rows
        now = now_ms(self.clock)
        if now >= self._next_claim_ms:
            self._next_claim_ms = now + self.settings.archive_claim_idle_s * 500
            reply: Any = self.client.xautoclaim(
                k.history_stream, HISTORY_GROUP, self.consumer,
                min_idle_time=self.settings.archive_claim_idle_s * 1000, start_id="0-0",
                count=batch,
            )  # fmt: skip
            claimed = [(i, f) for i, f in reply[1] if f is not None]
            if len(reply[1]) >= batch:
                self._next_claim_ms = now  # more may be stranded: look again next step
            if claimed:
                log.info("took over %d entries from a stopped archiver", len(claimed))
                return claimed, len(claimed)
        read: Any = self.client.xreadgroup(
            HISTORY_GROUP, self.consumer, {k.history_stream: ">"}, count=batch, block=block_ms
        )
        if not read:
            return [], 0
        return [(i, f) for i, f in read[0][1] if f is not None], 0

    def _commit(self, good: Sequence[tuple[str, Event]]) -> list[tuple[Entry, str]]:
        """Write the parsed entries; returns those the database refused, with its reason."""
        if not good:
            return []
        try:
            self.writer.write([ev for _, ev in good])
            return []
        except Exception as exc:
            if not is_data_error(exc):
                raise
        refused = []
        fields = dict(self._held)
        for entry_id, ev in good:  # one at a time: only the offending entry is set aside
            try:
                self.writer.write([ev])
            except Exception as exc:
                if not is_data_error(exc):
                    raise
                refused.append(((entry_id, fields[entry_id]), f"refused: {first_line(exc)}"))
        return refused

    def _finish(self, ids: list[str], bad: list[tuple[Entry, str]]) -> None:
        k = self.keys
        at = now_ms(self.clock)
        pipe = self.client.pipeline(transaction=True)
        for (entry_id, fields), reason in bad:
            log.warning("history entry %s set aside: %s", entry_id, reason)
            doc = {"id": entry_id, "reason": reason, "at_ms": at, "fields": fields}
            pipe.lpush(k.history_rejects, json.dumps(doc, sort_keys=True))
        if bad:
            pipe.ltrim(k.history_rejects, 0, HISTORY_REJECTS_KEEP - 1)
        pipe.xack(k.history_stream, HISTORY_GROUP, *ids)
        pipe.xdel(k.history_stream, *ids)
        pipe.execute()

    def _note_down(self, reason: str) -> None:
        if self._down_since_ms is None:
            self._down_since_ms = now_ms(self.clock)
            log.warning("history database unavailable (%s); the stream buffers", reason)

    def _maintain(self) -> None:
        """Hourly: erase transcripts past retention, drop consumers long gone; the gauge."""
        now = now_ms(self.clock)
        if now >= self._next_sweep_ms:
            erased = sweep_transcripts(self.engine, now, self.writer.policy.retention_ms)
            self._next_sweep_ms = now + SWEEP_EVERY_MS
            if erased:
                log.info("erased %d transcripts past retention", erased)
            self._drop_stale_consumers()
        if self.on_backlog is not None:
            self.on_backlog(self.backlog())

    def _drop_stale_consumers(self) -> None:
        stream = self.keys.history_stream
        for c in self.client.xinfo_consumers(stream, HISTORY_GROUP):
            if c["name"] != self.consumer and c["pending"] == 0 and c["idle"] > STALE_CONSUMER_MS:
                self.client.xgroup_delconsumer(stream, HISTORY_GROUP, c["name"])
