"""The budget kill switch: `paceline budget pause global|tenant:<id>` stops admitting tickets
of that scope until `paceline budget resume`, whatever money is left.

State: `<ns>:budget:paused`, a hash of scope -> JSON {"who", "reason", "at_ms"}. Admission
reads it in the admit's own round trip (an admission gate like the provider circuit:
workers/admission/gates.py), so a pause costs no extra round trip per ticket. A paused ticket
parks with reason `budget_paused` and looks again after `RECHECK_MS`; `resume` moves the
release of every ticket parked for that scope to now, so they come back at once.
"""

from __future__ import annotations

import json
from typing import Any, cast

import redis

from shared.clock import Clock, now_ms
from shared.keys import Keys
from shared.models import Lane, Ticket

REASON = "budget_paused"
# A paused ticket looks again this often (a resume releases them at once anyway).
RECHECK_MS = 3_600_000
GLOBAL = "global"
TENANT_PREFIX = "tenant:"


class BudgetPause:
    """The kill switch's store, and its admission gate (`queue_reads`, `decide`)."""

    def __init__(self, client: redis.Redis, keys: Keys, clock: Clock) -> None:
        self._r = client
        self._keys = keys
        self._clock = clock

    def pause(self, scope: str, *, who: str, reason: str) -> dict[str, Any]:
        entry = {"who": who, "reason": reason, "at_ms": now_ms(self._clock)}
        self._r.hset(self._keys.budget_paused, scope, json.dumps(entry))
        return entry

    def resume(self, scope: str) -> tuple[bool, int]:
        """(was it paused, tickets released now)."""
        was = bool(self._r.hdel(self._keys.budget_paused, scope))
        return was, self._release_parked(scope)

    def paused(self) -> dict[str, dict[str, Any]]:
        raw = cast(dict[str, str], self._r.hgetall(self._keys.budget_paused))
        return {scope: json.loads(doc) for scope, doc in raw.items()}

    def _release_parked(self, scope: str) -> int:
        """Tickets parked by this scope's pause get a release time of now (the scheduler
        then sends them back); a ticket another pause still holds parks again."""
        k = self._keys
        members = [
            m for m, why in self._r.hscan_iter(k.parked_reasons, count=1000) if why == REASON
        ]
        if scope != GLOBAL:
            tenant = scope.removeprefix(TENANT_PREFIX)
            encoded = cast(list[str | None], self._r.hmget(k.parked_messages, members))
            members = [
                m
                for m, raw in zip(members, encoded, strict=True)
                if raw is not None and _tenant_of(raw) == tenant
            ]
        if not members:
            return 0
        at = now_ms(self._clock)
        changed = self._r.zadd(k.parked, dict.fromkeys(members, at), xx=True, ch=True)
        return int(cast(int, changed))

    # --- admission gate (workers/admission/gates.py) -------------------------------------
    def queue_reads(self, pipe: Any) -> int:
        pipe.hgetall(self._keys.budget_paused)
        return 1

    def decide(self, replies: list[Any], ticket: Ticket, lane: Lane) -> tuple[int, str] | None:
        paused = replies[0] or {}
        if GLOBAL in paused or f"{TENANT_PREFIX}{ticket.tenant_id}" in paused:
            return now_ms(self._clock) + RECHECK_MS, REASON
        return None


def _tenant_of(encoded: str) -> str | None:
    """The tenant of a parked ticket message (dramatiq's JSON: the ticket is its first arg)."""
    try:
        return str(json.loads(encoded)["args"][0]["tenant_id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
