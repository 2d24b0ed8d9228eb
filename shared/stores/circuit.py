"""The provider circuit breaker, shared by every worker through Redis.

closed    -> calls go through; each attempt's outcome lands in a sliding window of buckets
             (`<ns>:circuit:window:<bucket>`). When at least `circuit_min_calls` attempts in the
             window failed at `circuit_error_rate_pct` or more, the circuit opens.
open      -> no calls until `retry_at_ms` (now + `circuit_open_s`); admission parks tickets
             until then (reason "provider_circuit_open") instead of burning retries.
half_open -> after `retry_at_ms` one caller wins the probe token (SET NX with a TTL, so a probe
             whose worker died is retried); its success closes the circuit and clears the
             window, its failure re-opens it for another `circuit_open_s`.

Every transition is one Lua script, so many workers never disagree about the state. Time comes
from the injected clock (as `now_ms` arguments), never from Redis' own TIME.
"""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any, cast

import redis
from redis.commands.core import Script

from shared.clock import Clock
from shared.keys import Keys
from shared.lua import lua_source
from shared.models import Lane, Ticket
from shared.settings import Settings

REASON = "provider_circuit_open"
DEFAULT_WINDOW_S = 30.0
WINDOW_BUCKETS = 10
# While a probe is out, tickets wait this long before admission looks again.
PROBE_WAIT_MS = 1_000
# Share of `circuit_open_s` added as jitter to a parked ticket's release, so a fleet of
# parked tickets does not hit the gate in the same millisecond the circuit half-opens.
RELEASE_JITTER_PCT = 20


class ProviderCircuit:
    """The agent's `CircuitHook` (allow/record) and an admission gate (`queue_reads` and
    `decide`, see workers/admission/gates.py), in one object.

    One instance per worker process, shared by its threads: the probe token a thread wins in
    `allow()` is kept thread-locally until that same thread's `record()`, because the agent
    calls both from the thread that runs the ticket.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        settings: Settings,
        clock: Clock,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        rng: random.Random | None = None,
    ) -> None:
        self._r = client
        self._keys = keys
        self._clock = clock
        self._min_calls = settings.circuit_min_calls
        self._rate_pct = settings.circuit_error_rate_pct
        self._open_ms = int(settings.circuit_open_s * 1000)
        self._bucket_ms = max(int(window_s * 1000) // WINDOW_BUCKETS, 1)
        # A probe can take no longer than one provider call; after that another may go.
        self._probe_ttl_ms = int((settings.llm_timeout_s + 5) * 1000)
        self._rng = rng or random.Random()
        self._local = threading.local()
        self._record = client.register_script(lua_source("shared.stores", "circuit_record"))
        self._allow = client.register_script(lua_source("shared.stores", "circuit_allow"))

    def _now_ms(self) -> int:
        return int(self._clock.now_s() * 1000)

    def _bucket_keys(self, now_ms: int) -> list[str]:
        current = now_ms // self._bucket_ms
        return [self._keys.circuit_window(current - i) for i in range(WINDOW_BUCKETS)]

    # --- CircuitHook -------------------------------------------------------------------
    def allow(self) -> bool:
        _, keys, args = self.allow_script()
        return self.allowed(self._allow(keys=keys, args=args), args)

    def allow_script(self) -> tuple[Script, list[str], list[Any]]:
        """`allow` as (script, keys, args), for a round trip shared with the call's draw
        (workers/call_records.py); pass the reply and the args to `allowed`."""
        args: list[Any] = [self._now_ms(), uuid.uuid4().hex, self._probe_ttl_ms]
        return self._allow, [self._keys.circuit, self._keys.circuit_probe], args

    def allowed(self, reply: Any, args: list[Any]) -> bool:
        if isinstance(reply, Exception):
            raise reply
        got = int(reply)
        if got == 2:
            self._local.token = args[1]  # this thread holds the probe until its record
        return got != 0

    def record(self, ok: bool) -> None:
        _, keys, args = self.record_script(ok)
        self._record(keys=keys, args=args)

    def record_script(self, ok: bool) -> tuple[Script, list[str], list[Any]]:
        """`record` as (script, keys, args), for a round trip shared with the call's settle
        (workers/call_records.py). Takes this thread's probe token, as `record` does."""
        token = getattr(self._local, "token", "")
        self._local.token = ""
        now_ms = self._now_ms()
        keys = [self._keys.circuit, self._keys.circuit_probe, *self._bucket_keys(now_ms)]
        args: list[Any] = [
            now_ms,
            1 if ok else 0,
            self._min_calls,
            self._rate_pct,
            self._open_ms,
            2 * self._bucket_ms * WINDOW_BUCKETS,
            token,
        ]
        return self._record, keys, args

    # --- admission gate (workers/admission/gates.py: park while open or a probe is out) --
    def queue_reads(self, pipe: Any) -> int:
        """Queue what `decide` reads (admission sends it in the admit's round trip)."""
        pipe.hmget(self._keys.circuit, ["state", "retry_at_ms"])
        pipe.exists(self._keys.circuit_probe)
        return 2

    def decide(self, replies: list[Any], ticket: Ticket, lane: Lane) -> tuple[int, str] | None:
        (state, retry_at), probe_out = replies
        if state in (None, "closed"):
            return None
        now_ms = self._now_ms()
        retry_at_ms = int(retry_at or 0)
        if state == "open" and now_ms < retry_at_ms:
            jitter_ms = self._rng.randint(0, self._open_ms * RELEASE_JITTER_PCT // 100)
            return retry_at_ms + jitter_ms, REASON
        if state == "half_open" and probe_out:
            return now_ms + min(PROBE_WAIT_MS, self._open_ms), REASON
        return None  # due for a probe: let this ticket try to win it

    # --- reading -----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        raw = cast(dict[str, str], self._r.hgetall(self._keys.circuit))
        counts = {"ok": 0, "err": 0}
        pipe = self._r.pipeline(transaction=False)
        for key in self._bucket_keys(self._now_ms()):
            pipe.hmget(key, ["ok", "err"])
        for ok_n, err_n in pipe.execute():
            counts["ok"] += int(ok_n or 0)
            counts["err"] += int(err_n or 0)
        return {
            "state": raw.get("state", "closed"),
            "retry_at_ms": int(raw.get("retry_at_ms", 0) or 0),
            "opens": int(raw.get("opens", 0) or 0),
            "window_ok": counts["ok"],
            "window_err": counts["err"],
        }
