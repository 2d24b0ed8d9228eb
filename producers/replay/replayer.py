"""Historical replay: stream an export into the REPLAY lane, resumable, paced, filtered.

Each ticket goes through `Intake.submit` with delivery id `replay:<name>:<event_id>`, so the
dedupe claim makes it enqueued at most once per replay name, whatever happens to this process.
The checkpoint (`Keys.replay_checkpoint(name)`, a hash) holds the byte offset after the last
record fully handled, and running counts. It is written every `CHECKPOINT_EVERY` records and
on every exit (Ctrl-C included), so a resume re-reads at most that many records, which the
dedupe claim then reports as duplicates: exactly once is the claim's job, speed the offset's.
The name defaults to the file's path, size and mtime, so an edited file is a new replay.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from producers.enqueue import Intake
from producers.replay.estimate import CostEstimate, ReplayEstimator
from producers.replay.source import Record
from shared.clock import Clock, now_ms
from shared.keys import Keys
from shared.messages import POST_REPLIES
from shared.models import Lane, Ticket
from shared.stores.threads import CUSTOMER, kind_of

CHECKPOINT_TTL_S = 30 * 24 * 3600
CHECKPOINT_EVERY = 500
PROGRESS_EVERY = 256
MAX_INVALID_LINES = 100  # line numbers kept for the summary; the count is always exact
MAX_INVALID_REASONS = 20  # "line N: why" kept for the summary (never the row's content)


def replay_name(path: Path) -> str:
    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    stem = re.sub(r"[^A-Za-z0-9_.\-]", "-", path.stem)[:40] or "replay"
    return f"{stem}-{hashlib.blake2b(ident.encode(), digest_size=6).hexdigest()}"


@dataclass(frozen=True)
class ReplayFilter:
    since: datetime | None = None
    until: datetime | None = None
    tenants: frozenset[str] = frozenset()

    def keep(self, ticket: Ticket) -> bool:
        if self.tenants and ticket.tenant_id not in self.tenants:
            return False
        if self.since is None and self.until is None:
            return True
        at = ticket.created_at
        if at is None:
            return False
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


@dataclass
class ReplaySummary:
    name: str
    file: str
    dry_run: bool
    read: int = 0
    enqueued: int = 0
    duplicates: int = 0
    skipped_by_filter: int = 0
    invalid: int = 0
    invalid_lines: list[int] = field(default_factory=list)
    invalid_reasons: list[str] = field(default_factory=list)
    offset: int = 0
    line: int = 0
    resumed_from_offset: int = 0
    completed: bool = False
    interrupted: bool = False

    def counts(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in {"name", "file", "dry_run"}}


# Called with (byte offset reached, rows read so far).
ProgressFn = Callable[[int, int], None]


class Replayer:
    def __init__(
        self,
        *,
        client: redis.Redis,
        keys: Keys,
        clock: Clock,
        intake: Intake | None,
        interrupt_after: int | None = None,
        post_replies: bool = False,
    ) -> None:
        self._r = client
        self._keys = keys
        self._clock = clock
        self._intake = intake
        # Replays post no reply to the original callback or vendor unless asked: the worker
        # reads this option (shared.messages.may_post_reply); the outcome is stored either way.
        self._options = {POST_REPLIES: post_replies}
        # Test hook: behave as if Ctrl-C arrived after this many records of this run.
        self._interrupt_after = interrupt_after
        # Set by the CLI's SIGINT handler: the loop stops between records, never inside a
        # submit, so the checkpoint is exact (a second Ctrl-C raises KeyboardInterrupt).
        self.stop = threading.Event()

    def checkpoint(self, name: str) -> dict[str, str]:
        raw = self._r.hgetall(self._keys.replay_checkpoint(name))
        return {str(k): str(v) for k, v in raw.items()}

    def forget(self, name: str) -> None:
        self._r.delete(self._keys.replay_checkpoint(name))

    def resume_point(self, summary: ReplaySummary, restart: bool) -> None:
        """Load the counts and position of an earlier run of this replay into `summary`."""
        saved = {} if restart else self.checkpoint(summary.name)
        if not saved:
            return
        for key in (
            "read",
            "enqueued",
            "duplicates",
            "skipped_by_filter",
            "invalid",
            "offset",
            "line",
        ):
            setattr(summary, key, int(saved.get(key, 0)))
        summary.invalid_lines = json.loads(saved.get("invalid_lines", "[]"))
        summary.invalid_reasons = json.loads(saved.get("invalid_reasons", "[]"))
        summary.completed = saved.get("completed") == "1"
        summary.resumed_from_offset = summary.offset

    def _save(self, summary: ReplaySummary) -> None:
        key = self._keys.replay_checkpoint(summary.name)
        fields = {k: v for k, v in summary.counts().items() if isinstance(v, int | bool)}
        # Typed loosely: redis-py's mapping type is invariant over a wide key/value union.
        mapping: dict[Any, Any] = {k: int(v) for k, v in fields.items()}
        mapping["invalid_lines"] = json.dumps(summary.invalid_lines)
        mapping["invalid_reasons"] = json.dumps(summary.invalid_reasons)
        mapping["file"] = summary.file
        mapping["updated_at_ms"] = now_ms(self._clock)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, CHECKPOINT_TTL_S)
        pipe.execute()

    def run(
        self,
        records: Iterator[Record],
        summary: ReplaySummary,
        *,
        name: str,
        filt: ReplayFilter,
        rate_per_s: float | None = None,
        estimator: ReplayEstimator | None = None,
        on_progress: ProgressFn | None = None,
    ) -> ReplaySummary:
        """Handle every record; returns the summary, `interrupted` set on Ctrl-C."""
        started_s = self._clock.now_s()
        handled = 0
        try:
            for record in records:
                if self.stop.is_set() or handled == self._interrupt_after:
                    raise KeyboardInterrupt
                self._handle(record, summary, name, filt, estimator)
                summary.offset, summary.line = record.end_offset, record.line_no
                handled += 1
                if not summary.dry_run and handled % CHECKPOINT_EVERY == 0:
                    self._save(summary)
                if on_progress is not None and handled % PROGRESS_EVERY == 0:
                    on_progress(summary.offset, summary.read)
                if rate_per_s and not summary.dry_run:
                    # Pace against the start, not the last send, so slow sends do not add up.
                    self._clock.sleep(started_s + handled / rate_per_s - self._clock.now_s())
            summary.completed = True
        except KeyboardInterrupt:
            summary.interrupted = True
        if not summary.dry_run:
            self._save_final(summary)
        if on_progress is not None:
            on_progress(summary.offset, summary.read)
        return summary

    def _save_final(self, summary: ReplaySummary) -> None:
        # A second Ctrl-C while the checkpoint is written must not lose the position.
        try:
            self._save(summary)
        except KeyboardInterrupt:
            self._save(summary)
            raise

    def _handle(
        self,
        record: Record,
        summary: ReplaySummary,
        name: str,
        filt: ReplayFilter,
        estimator: ReplayEstimator | None,
    ) -> None:
        summary.read += 1
        ticket = record.ticket
        if ticket is None:
            summary.invalid += 1
            if len(summary.invalid_lines) < MAX_INVALID_LINES:
                summary.invalid_lines.append(record.line_no)
            if len(summary.invalid_reasons) < MAX_INVALID_REASONS:
                summary.invalid_reasons.append(f"line {record.line_no}: {record.error}")
            return
        # Only customers' words are answered: a person's reply, a bot's message or a status
        # change in the history is no ticket to replay (docs/conversations.md).
        if not filt.keep(ticket) or kind_of(ticket) != CUSTOMER:
            summary.skipped_by_filter += 1
            return
        if estimator is not None:
            estimator.add(ticket)
        if summary.dry_run or self._intake is None:
            return
        result = self._intake.submit(
            ticket,
            Lane.REPLAY,
            delivery_id=f"replay:{name}:{ticket.event_id}",
            options=self._options,
        )
        if result.duplicate:
            summary.duplicates += 1
        else:
            summary.enqueued += 1


def estimate_document(estimator: ReplayEstimator) -> dict[str, Any]:
    total: CostEstimate = estimator.total
    budget = estimator.replay_budget_micros()
    return {
        "tickets": total.tickets,
        "likely_micros": total.likely_micros,
        "worst_micros": total.worst_micros,
        "replay_budget_micros_per_day": budget,
        "ceiling_micros_per_day": estimator.ceiling_micros(),
        "likely_share_of_ceiling_pct": _pct(total.likely_micros, estimator.ceiling_micros()),
        "worst_share_of_ceiling_pct": _pct(total.worst_micros, estimator.ceiling_micros()),
        "likely_share_of_replay_budget_pct": _pct(total.likely_micros, budget),
        "worst_share_of_replay_budget_pct": _pct(total.worst_micros, budget),
    }


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0
