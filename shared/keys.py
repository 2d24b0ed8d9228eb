"""Every Redis key paceline writes, its type and its TTL, under `PACELINE_NAMESPACE`.

Two namespaces on one Redis never see each other: every key below, and dramatiq's own
(`<ns>:dq:*`, see `dramatiq_namespace`), starts with the namespace.

| key                                   | type   | TTL                    | what                       |
|---------------------------------------|--------|------------------------|----------------------------|
| <ns>:caps                             | hash   | none                   | cap overrides (micros)     |
| <ns>:caps:audit                       | list   | none (capped 1000)     | who changed a cap and when |
| <ns>:ledger:<day>                     | hash   | 8 days                 | the day's books (below)    |
| <ns>:res:<reservation_id>             | hash   | lease + 1 day          | one reservation (below)    |
| <ns>:res:leases                       | zset   | none                   | reservation id by expiry ms|
| <ns>:res:by_ticket                    | hash   | none (entries cleaned) | ticket key -> reservation  |
| <ns>:pace                             | hash   | none                   | the admission bucket       |
| <ns>:parked                           | zset   | none                   | parked member by release ms|
| <ns>:parked:msg                       | hash   | none                   | parked member -> message   |
| <ns>:dedupe:<source>:<delivery_id>    | string | dedupe window          | first job id               |
| <ns>:ticket:<ticket_key>              | hash   | retention              | the ticket's outcome       |
| <ns>:outcomes:index                   | zset   | none                   | ticket key by update ms    |
| <ns>:dlq:entries                      | hash   | retention (by sweep)   | entry id -> JSON entry     |
| <ns>:dlq:index                        | zset   | retention (by sweep)   | entry id by failure ms     |
| <ns>:dlq:requeued:<ticket_key>:<ms>   | string | 1 day                  | one requeue per dead letter|
| <ns>:circuit                          | hash   | none                   | provider circuit breaker   |
| <ns>:circuit:window:<bucket>          | hash   | 2 windows              | ok/error counts            |
| <ns>:circuit:probe                    | string | probe timeout          | half-open probe token      |
| <ns>:scheduler:leader                 | string | lease                  | the leader's id            |
| <ns>:scheduler:fence                  | string | none                   | fencing token counter      |
| <ns>:scheduler:spend_samples          | zset   | none (trimmed 2 h)     | tenant spend snapshots     |
| <ns>:provider:limits                  | hash   | none                   | provider rate-limit headers|
| <ns>:alerts:<day>                     | hash   | 8 days                 | alert -> fired at          |
| <ns>:callback:<ticket_key>            | string | retention              | callback delivered marker  |
| <ns>:replay:checkpoint:<name>         | hash   | 30 days                | replay resume position     |
| <ns>:ops:spend_hourly:<day>           | hash   | 8 days                 | hour -> cumulative spent   |

The day's books hold two fields per scope (`global`, `tenant:<t>`, `user:<t>:<u>`):
`spent:<scope>` (micros billed) and `reserved:<scope>` (micros held); and `calls:global`
(model calls settled that day; books written before 2026-11-26 may also count per scope).
One hash, so a decision reads and writes every scope in one call each; it
and `res:by_ticket` also hold a `_layout` field whose long value keeps them hash tables
(as listpacks, below 128 fields, every lookup scans them; see shared/ledger/common.lua), and
`res:leases` a long `_layout` member at +inf that keeps it a skip list.
A reservation's hash holds its counters plus `d:<call>` (a call's drawn worst case, until it
settles) and `s:<call>` (what it cost; `x:<micros>` when the lease ran out first).
"""

from __future__ import annotations

from dataclasses import dataclass

LEDGER_DAY_TTL_S = 8 * 24 * 3600
RESERVATION_EXTRA_TTL_S = 24 * 3600
TICKET_RETENTION_S = 30 * 24 * 3600
# Field prefixes in the day's books and in a reservation's hash.
SPENT, RESERVED, CALLS = "spent:", "reserved:", "calls:"
SETTLED_CALL = "s:"


@dataclass(frozen=True)
class Keys:
    namespace: str

    def _k(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    # dramatiq writes `<dramatiq_namespace>:<queue>`, `.msgs`, `.DQ`, heartbeats, ...
    @property
    def dramatiq_namespace(self) -> str:
        return self._k("dq")

    @property
    def caps(self) -> str:
        return self._k("caps")

    @property
    def caps_audit(self) -> str:
        return self._k("caps", "audit")

    def books(self, day: str) -> str:
        return self._k("ledger", day)

    def reservation(self, reservation_id: str) -> str:
        return self._k("res", reservation_id)

    @property
    def reservation_prefix(self) -> str:
        return self._k("res") + ":"

    @property
    def leases(self) -> str:
        return self._k("res", "leases")

    @property
    def reservation_by_ticket(self) -> str:
        return self._k("res", "by_ticket")

    @property
    def pace(self) -> str:
        return self._k("pace")

    @property
    def parked(self) -> str:
        return self._k("parked")

    @property
    def parked_messages(self) -> str:
        return self._k("parked", "msg")

    def dedupe(self, source: str, delivery_id: str) -> str:
        return self._k("dedupe", source, delivery_id)

    def ticket(self, ticket_key: str) -> str:
        return self._k("ticket", ticket_key)

    @property
    def outcomes_index(self) -> str:
        return self._k("outcomes", "index")

    @property
    def dlq_entries(self) -> str:
        return self._k("dlq", "entries")

    @property
    def dlq_index(self) -> str:
        return self._k("dlq", "index")

    def dlq_requeued(self, ticket_key: str, dead_at_ms: int) -> str:
        return self._k("dlq", "requeued", ticket_key, str(dead_at_ms))

    @property
    def circuit(self) -> str:
        return self._k("circuit")

    def circuit_window(self, bucket: int) -> str:
        return self._k("circuit", "window", str(bucket))

    @property
    def circuit_probe(self) -> str:
        return self._k("circuit", "probe")

    @property
    def scheduler_leader(self) -> str:
        return self._k("scheduler", "leader")

    @property
    def scheduler_fence(self) -> str:
        return self._k("scheduler", "fence")

    @property
    def spend_samples(self) -> str:
        return self._k("scheduler", "spend_samples")

    @property
    def provider_limits(self) -> str:
        return self._k("provider", "limits")

    def alerts(self, day: str) -> str:
        return self._k("alerts", day)

    def callback(self, ticket_key: str) -> str:
        return self._k("callback", ticket_key)

    def replay_checkpoint(self, name: str) -> str:
        return self._k("replay", "checkpoint", name)

    def spend_hourly(self, day: str) -> str:
        return self._k("ops", "spend_hourly", day)

    def scan_pattern(self) -> str:
        """Every key of this namespace; tests use it to clean up only what they wrote."""
        return self._k("*")
