"""The ledger's Python face: every decision is one Lua script, never read-then-write.

Scopes are `global`, `tenant:<tenant>` and `user:<tenant>:<requester>`; caps default to the
settings and are overridden at runtime in `<ns>:caps` (`paceline budget set`). Spend is kept
per budget day in `PACELINE_TIMEZONE`, read from the injected clock.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, cast

import redis
from redis.commands.core import Script

from shared.clock import Clock, budget_day, day_bounds_s
from shared.keys import CALLS, RESERVATION_EXTRA_TTL_S, RESERVED, SPENT, Keys
from shared.redis_client import LeanPipeline, RoundTrip, ThreadConnections, evalsha_batch
from shared.settings import Settings

log = logging.getLogger("paceline.ledger")

DecisionKind = Literal["admit", "defer", "reject", "skip"]
# How soon to look again when money is only held by reservations in flight.
HELD_RETRY_MS = 1_000
# Below this share of its burst the bucket counts as "tight" and the ladder steps down.
TIGHT_PCT = 25
# Tickets (or settles) per script. A batch script holds Redis for its whole run: a consumer's
# fetch is well below this, and a longer batch is cut into scripts of this size so no caller
# stalls Redis for the others (a full batch runs for well under a millisecond).
SCRIPT_BATCH = 64


@dataclass(frozen=True)
class Candidate:
    """A model the ticket may run on, with its full envelope and the least worth admitting."""

    model: str
    full_micros: int
    min_micros: int


# AdmissionRequest and Decision are made for every ticket on the admission hot path: named
# tuples (immutable like a frozen dataclass, and several times cheaper to build than one,
# whose `__init__` sets each field through `object.__setattr__`).
class AdmissionRequest(NamedTuple):
    # The ticket event (`Ticket.idempotency_key`): at most one open reservation per event.
    ticket_key: str
    tenant_id: str
    requester_id: str
    lane: str
    candidates: Sequence[Candidate]
    # Set both to have admission skip an event whose outcome is already final (`outcome_key`
    # is the ticket's key, `Ticket.key`).
    outcome_key: str | None = None
    event_id: str | None = None
    # The tenant profile's own daily caps (micros): below a runtime override of the scope,
    # above the `tenant:*` / `user:*` ones and the settings (docs/tenants.md).
    tenant_cap_micros: int | None = None
    requester_cap_micros: int | None = None


class Decision(NamedTuple):
    kind: DecisionKind
    reason: str
    reservation_id: str | None = None
    grant_micros: int = 0
    model: str | None = None
    until_ms: int = 0
    reused: bool = False


class CallTokens(NamedTuple):
    """What the provider's `usage` said a call took, and the model it billed, for the history
    (the ledger itself only moves money)."""

    prompt: int = 0
    cached: int = 0
    completion: int = 0
    model: str = ""


NO_TOKENS = CallTokens()


@dataclass(frozen=True)
class DrawResult:
    ok: bool
    left_micros: int
    lost: bool = False


def split_books(raw: dict[str, str]) -> dict[str, dict[str, int]]:
    """The day's books hash as {"spent"|"reserved"|"calls": {scope: micros or count}}."""
    out: dict[str, dict[str, int]] = {"spent": {}, "reserved": {}, "calls": {}}
    for prefix, name in ((SPENT, "spent"), (RESERVED, "reserved"), (CALLS, "calls")):
        n = len(prefix)
        out[name] = {f[n:]: int(v) for f, v in raw.items() if f.startswith(prefix)}
    return out


def _numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _raise(reply: Any) -> Any:
    if isinstance(reply, Exception):
        raise reply
    return reply


def _item(raw: Any) -> Any:
    """One item of a batch script's reply: {'error', message} is that item's failure."""
    if isinstance(raw, list) and raw[0] == "error":
        return redis.exceptions.ResponseError(raw[1])
    return raw


def _decision(raw: list[Any]) -> Decision | Exception:
    failed = _item(raw)
    if isinstance(failed, Exception):
        return failed
    kind, rid, grant, model, reason, until_ms, reused = raw[:7]
    # Positional (a named tuple's keywords cost twice as much): kind, reason,
    # reservation_id, grant_micros, model, until_ms, reused.
    return Decision(
        kind, reason, rid or None, int(grant), model or None, int(until_ms), bool(int(reused))
    )


class Ledger:
    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings, clock: Clock) -> None:
        from shared.ledger.scripts import script_source

        self._r = client
        self._conns = ThreadConnections(client)
        self._keys = keys
        self._settings = settings
        self._clock = clock
        self._prefix = keys.namespace + ":"
        self._admit = client.register_script(script_source("admit"))
        self._draw = client.register_script(script_source("draw"))
        self._settle = client.register_script(script_source("settle"))
        self._release = client.register_script(script_source("release"))
        self._reap = client.register_script(script_source("reap"))
        # Arguments that only change with the settings, built once (the admit hot path).
        s = settings
        self._cap_args: tuple[Any, ...] = (
            s.ceiling_micros,
            s.tenant_cap_micros,
            s.user_cap_micros,
            s.live_reserve_pct,
            s.pacing,
            self.burst_micros(),
            TIGHT_PCT,
            HELD_RETRY_MS,
            s.reservation_lease_s + RESERVATION_EXTRA_TTL_S,
        )
        # The history stream is in each script that can move `spent`: settle, and the closes
        # (admit's releases, release, reap) that charge a lease-expired call.
        self._fixed_keys = [
            keys.caps, keys.pace, keys.leases, keys.reservation_by_ticket, keys.history_stream
        ]  # fmt: skip
        self._release_keys = (
            keys.leases, keys.reservation_by_ticket, keys.pace, keys.history_stream
        )  # fmt: skip
        self._day_cache: tuple[float, float, str] = (0.0, 0.0, "")
        # Reservation ids: a random prefix per ledger and a counter (next() on a count is
        # atomic under the GIL), unique without a syscall per admission.
        self._rid_prefix = uuid.uuid4().hex[:16]
        self._rid_seq = itertools.count(1)

    def close(self) -> None:
        """Close the connections the hot paths opened (one per thread that used them)."""
        self._conns.close()

    # --- time -------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self._clock.now_s() * 1000)

    def day(self, at_s: float | None = None) -> str:
        return budget_day(self._clock.now_s() if at_s is None else at_s, self._settings.tz)

    def burst_micros(self) -> int:
        return self._settings.ceiling_micros * self._settings.pace_burst_pct // 100

    # --- the four operations -----------------------------------------------------------
    def admit(self, req: AdmissionRequest) -> Decision:
        return self.admit_with(req, lambda pipe: None)[1]

    def admit_with(
        self,
        req: AdmissionRequest,
        queue_reads: Callable[[Any], object],
        releases: Sequence[str] = (),
    ) -> tuple[list[Any], Decision]:
        """Admit in the same round trip as reads that `queue_reads(pipe)` queues first (the
        admission gates): one round trip instead of one per gate. Returns the reads' replies
        and the decision; a caller whose reads say "stop" releases what was admitted.

        `releases` (reservations to close) are closed in the same round trip, before the
        decision, so what they give back is there for it."""
        replies, (decision,) = self.admit_batch([req], queue_reads, releases)
        return replies, _raise(decision)

    def admit_batch(
        self,
        reqs: Sequence[AdmissionRequest],
        queue_reads: Callable[[Any], object],
        releases: Sequence[str] = (),
    ) -> tuple[list[Any], list[Decision | Exception]]:
        """`admit_with` for several tickets: the reads, then one admit script for the batch
        (each ticket its own decision, in order, all of them one atomic script; a batch longer
        than SCRIPT_BATCH goes as several scripts, in order), in one round trip. The releases
        ride in the first script, closed before it decides. A ticket whose part failed gets
        the error in its slot (so does every ticket of a script that failed); a failed read
        raises.

        Sent on a `LeanPipeline`, the scripts by their SHA: a server that lost it answers
        NOSCRIPT, nothing ran, and those scripts go again through `evalsha_batch`, which
        loads it (the releases with them: closing is idempotent)."""
        pipe = LeanPipeline(self._r, self._conns)
        queue_reads(pipe)
        if not reqs and not releases:
            return [_raise(reply) for reply in pipe.execute()], []
        now_s = self._clock.now_s()  # one instant for the batch (sent together)
        chunks = [reqs[i : i + SCRIPT_BATCH] for i in range(0, len(reqs), SCRIPT_BATCH)] or [()]
        calls = [
            self._admit_call(chunk, releases if i == 0 else (), now_s)
            for i, chunk in enumerate(chunks)
        ]
        for call in calls:
            pipe.evalsha(self._admit.sha, *call)
        replies = pipe.execute()
        reads, outs = replies[: -len(calls)], replies[-len(calls) :]
        again = [i for i, out in enumerate(outs) if isinstance(out, redis.exceptions.NoScriptError)]
        if again:
            retried = evalsha_batch(self._r, self._admit, [calls[i] for i in again], self._conns)
            for i, out in zip(again, retried, strict=True):
                outs[i] = out
        if releases and isinstance(outs[0], Exception):  # it may have failed before closing
            self.release_many(releases)
        decisions: list[Decision | Exception] = []
        for chunk, out in zip(chunks, outs, strict=True):
            if isinstance(out, Exception):
                decisions += [out] * len(chunk)
                continue
            if int(out[0]):
                log.warning("%d reservations could not be closed (left to their leases)", out[0])
            decisions += [_decision(raw) for raw in out[1:]]
        for reply in reads:
            _raise(reply)
        return reads, decisions

    def admit_many(self, reqs: list[AdmissionRequest]) -> list[Decision]:
        """Several admissions in one round trip, one script per SCRIPT_BATCH (each ticket its
        own decision, in order)."""
        return [_raise(d) for d in self.admit_batch(reqs, lambda pipe: None)[1]]

    def settle_many(
        self, calls: Sequence[tuple[str, str, int] | tuple[str, str, int, CallTokens]]
    ) -> list[bool]:
        """(reservation id, call id, actual micros[, tokens]) settles in one round trip and one
        script per SCRIPT_BATCH (each its own settle, in order, each added to the history
        stream in the same script); raises the first that failed."""
        k, scripts = self._keys, []
        now_ms = self.now_ms()
        for i in range(0, len(calls), SCRIPT_BATCH):
            chunk = calls[i : i + SCRIPT_BATCH]
            args: list[Any] = [self._prefix, now_ms]
            keys = []
            for rid, call_id, actual, *rest in chunk:
                t = rest[0] if rest else NO_TOKENS
                args += (call_id, int(actual), t.prompt, t.cached, t.completion, t.model)
                keys.append(k.reservation(rid))
            keys.append(k.history_stream)
            scripts.append((keys, args))
        replies = evalsha_batch(self._r, self._settle, scripts, self._conns)
        return [_raise(_item(raw)) == 1 for reply in replies for raw in _raise(reply)]

    def _admit_call(
        self, reqs: Sequence[AdmissionRequest], releases: Sequence[str], now_s: float
    ) -> tuple[list[str], list[Any]]:
        """The admit script's keys and arguments for a batch (its header says the layout)."""
        now_ms = int(now_s * 1000)
        day, day_end_ms = self._day_window(now_s)
        keys = list(self._fixed_keys)
        args: list[Any] = [
            self._prefix,
            now_ms,
            day,
            day_end_ms,
            now_ms + self._lease_ms,
            *self._cap_args,
            len(releases),
            *releases,
            len(reqs),
        ]
        for req in reqs:
            if not req.candidates:
                raise ValueError("admission needs at least one candidate model")
            outcome_at = 0
            if req.outcome_key is not None:
                keys.append(self._keys.ticket(req.outcome_key))
                outcome_at = len(keys)
            args += (
                req.ticket_key,
                f"{self._rid_prefix}{next(self._rid_seq):08x}",
                f"tenant:{req.tenant_id}",
                f"user:{req.tenant_id}:{req.requester_id}",
                req.lane,
                req.event_id or "",
                outcome_at,
                len(req.candidates),
                "" if req.tenant_cap_micros is None else req.tenant_cap_micros,
                "" if req.requester_cap_micros is None else req.requester_cap_micros,
            )
            for c in req.candidates:
                args += (c.model, c.full_micros, c.min_micros)
        return keys, args

    def _day_window(self, now_s: float) -> tuple[str, int]:
        """The budget day containing `now_s` and its end in ms; recomputed only when the
        clock leaves the cached day (either way: the injected clock may go back)."""
        start_s, end_s, day = self._day_cache
        if not start_s <= now_s < end_s:
            start_s, end_s = day_bounds_s(now_s, self._settings.tz)
            day = self.day(now_s)
            self._day_cache = (start_s, end_s, day)
        return day, int(end_s * 1000)

    def draw(self, reservation_id: str, call_id: str, worst_micros: int) -> DrawResult:
        _, keys, args = self.draw_script(reservation_id, call_id, worst_micros)
        (reply,) = evalsha_batch(self._r, self._draw, [(keys, args)], self._conns)
        return self.draw_reply(reply)

    def draw_script(
        self, reservation_id: str, call_id: str, worst_micros: int
    ) -> tuple[Script, list[str], list[Any]]:
        """One draw as (script, keys, args), for a round trip shared with other commands."""
        keys = [self._keys.reservation(reservation_id), self._keys.leases]
        args: list[Any] = [reservation_id, call_id, worst_micros, self.now_ms(), self._lease_ms]
        return self._draw, keys, args

    @staticmethod
    def draw_reply(reply: Any) -> DrawResult:
        ok, left = _raise(reply)
        return DrawResult(ok=int(ok) == 1, left_micros=int(left), lost=int(ok) == -1)

    def settle(
        self,
        reservation_id: str,
        call_id: str,
        actual_micros: int,
        tokens: CallTokens = NO_TOKENS,
    ) -> bool:
        """Record what a call cost; True the first time, False for a repeat."""
        return self.settle_many([(reservation_id, call_id, actual_micros, tokens)])[0]

    def settle_script(
        self, reservation_id: str, call_id: str, actual_micros: int, tokens: CallTokens = NO_TOKENS
    ) -> tuple[Script, list[str], list[Any]]:
        """One settle as (script, keys, args), for a caller that sends it in a round trip
        with other writes (`shared.redis_client.RoundTrip`); `settle_reply` reads its reply."""
        t = tokens
        args: list[Any] = [self._prefix, self.now_ms(), call_id, int(actual_micros), t.prompt,
                           t.cached, t.completion, t.model]  # fmt: skip
        return (
            self._settle,
            [self._keys.reservation(reservation_id), self._keys.history_stream],
            args,
        )

    @staticmethod
    def settle_reply(reply: Any) -> bool:
        """`settle_script`'s reply: True the first time, False for a repeat; raises a failure."""
        return bool(_raise(_item(_raise(reply)[0])) == 1)

    def round_trip(self) -> RoundTrip:
        """A round trip on this thread's own connection (the draw's and settle's)."""
        return RoundTrip(self._r, self._conns)

    def release(self, reservation_id: str) -> int:
        """Close the reservation; returns the micros given back to the caps and the pace."""
        return self.release_many([reservation_id])[0]

    def release_script(self, reservation_id: str) -> tuple[Script, list[str], list[Any]]:
        """One release as (script, keys, args), for a round trip shared with other writes;
        `release_reply` reads its reply."""
        args: list[Any] = [self._prefix, reservation_id, self.now_ms()]
        return self._release, list(self._release_keys), args

    @staticmethod
    def release_reply(reply: Any) -> int:
        return int(_raise(reply))

    def release_many(self, reservation_ids: Sequence[str]) -> list[int]:
        """Close several reservations in one round trip (each its own atomic script)."""
        now_ms = self.now_ms()
        calls = [(self._release_keys, (self._prefix, rid, now_ms)) for rid in reservation_ids]
        return [
            int(_raise(freed))
            for freed in evalsha_batch(self._r, self._release, calls, self._conns)
        ]

    def reap(self, limit: int = 100) -> int:
        """Close reservations whose lease ran out (the scheduler, every tick); admission reaps a
        few itself, only before it would refuse."""
        k = self._keys
        n = self._reap(
            keys=[k.leases, k.reservation_by_ticket, k.pace, k.history_stream],
            args=[self._prefix, self.now_ms(), limit],
        )
        return int(n)

    @property
    def _lease_ms(self) -> int:
        return self._settings.reservation_lease_s * 1000

    # --- reading the books -------------------------------------------------------------
    def reservation(self, reservation_id: str) -> dict[str, str]:
        """The reservation's hash ({} when unknown); counters not yet written read as "0"."""
        data = cast(dict[str, str], self._r.hgetall(self._keys.reservation(reservation_id)))
        if data:
            for counter in ("taken", "settled", "drawn"):
                data.setdefault(counter, "0")
        return data

    def spent(self, scope: str = "global", day: str | None = None) -> int:
        return int(self._r.hget(self._keys.books(day or self.day()), SPENT + scope) or 0)

    def reserved(self, scope: str = "global", day: str | None = None) -> int:
        return int(self._r.hget(self._keys.books(day or self.day()), RESERVED + scope) or 0)

    def day_books(self, day: str | None = None) -> dict[str, dict[str, int]]:
        """{"spent"|"reserved"|"calls": {scope: value}} for the day."""
        raw = cast(dict[str, str], self._r.hgetall(self._keys.books(day or self.day())))
        return split_books(raw)

    def caps(self) -> dict[str, int]:
        raw = cast(dict[str, str], self._r.hgetall(self._keys.caps))
        return {k: int(v) for k, v in raw.items()}

    def pace_state(self) -> dict[str, int]:
        """The bucket's numeric fields (the live plan's text fields are left out)."""
        raw = cast(dict[str, str], self._r.hgetall(self._keys.pace))
        return {k: int(float(v)) for k, v in raw.items() if _numeric(v)}
