"""Every Redis key paceline writes, its type and its TTL, under `PACELINE_NAMESPACE`.

Two namespaces on one Redis never see each other: every key below, and dramatiq's own
(`<ns>:dq:*`, see `dramatiq_namespace`), starts with the namespace. `KEY_TABLE` lists them
all, one line each (template under the namespace, type, TTL, what it holds); a test runs the
whole flow, SCANs the namespace and fails on any key no line of it describes. A new key is a
method on `Keys` and one line in the table.

The day's books hold two fields per scope (`global`, `tenant:<t>`, `user:<t>:<u>`):
`spent:<scope>` (micros billed) and `reserved:<scope>` (micros held); and `calls:global`
(model calls settled that day; older books may also count per scope).
One hash, so a decision reads and writes every scope in one call each; it
and `res:by_ticket` also hold a `_layout` field whose long value keeps them hash tables
(as listpacks, below 128 fields, every lookup scans them; see shared/ledger/common.lua), and
`res:leases` a long `_layout` member at +inf that keeps it a skip list.
A reservation's hash holds its counters plus `d:<call>` (a call's drawn worst case, until it
settles) and `s:<call>` (what it cost; `x:<micros>` when the lease ran out first).
Knowledge spend (provider embeddings) is booked under the scope `kb:<tenant>` in the books.
An index image has a TTL while it is written (an import that dies leaves nothing behind),
none while it is `current`, and a short grace once replaced (a worker loading it finishes).

Per-ticket keys carry the tenant and the source: two tenants (or a Zendesk ticket and a generic
one) may use the same ticket or event id. `scoped` builds every such part (`<ticket_key>`,
`<event_key>`, `<delivery_key>`) with each piece length-prefixed, so no choice of ids makes two
different tickets share a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEDGER_DAY_TTL_S = 8 * 24 * 3600
RESERVATION_EXTRA_TTL_S = 24 * 3600
TICKET_RETENTION_S = 30 * 24 * 3600  # PACELINE_OUTCOME_RETENTION_S's default
# A ticket's hash outlives its retention by this much: the scheduler's sweep deletes it at its
# retention (and takes it out of the index and the counts), the TTL is the backstop.
OUTCOME_SWEEP_GRACE_S = 24 * 3600
# Field prefixes in the day's books and in a reservation's hash.
SPENT, RESERVED, CALLS = "spent:", "reserved:", "calls:"
SETTLED_CALL = "s:"
# The history stream's consumer group (every archiver process joins it).
HISTORY_GROUP = "archivers"
HISTORY_REJECTS_KEEP = 100_000


def scoped(*parts: str) -> str:
    """`parts` joined so that no two different tuples give the same text: each is prefixed by
    its length (`4:acme:7:generic:4:T-17`), so a colon inside an id cannot move a boundary."""
    return ":".join(f"{len(p)}:{p}" for p in parts)


def unscoped(key: str) -> list[str] | None:
    """The parts of a `scoped` text, or None when `key` is not one (an older, bare id)."""
    parts: list[str] = []
    i = 0
    while True:
        colon = key.find(":", i)
        digits = key[i:colon] if colon >= 0 else ""
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 6:
            return None
        end = colon + 1 + int(digits)
        if end > len(key):
            return None
        parts.append(key[colon + 1 : end])
        if end == len(key):
            return parts
        if key[end] != ":":
            return None
        i = end + 1


def ticket_key(tenant_id: str, source: str, ticket_id: str) -> str:
    """One ticket of one tenant from one source: its outcome, its index entry."""
    return scoped(tenant_id, source, ticket_id)


def event_key(tenant_id: str, source: str, ticket_id: str, event_id: str) -> str:
    """One event of one ticket: the reply marker, the reservation index, the requeue marker,
    the callback's `Idempotency-Key`."""
    return scoped(tenant_id, source, ticket_id, event_id)


def delivery_key(tenant_id: str, source: str, delivery_id: str) -> str:
    """One delivery of one source for one tenant: the webhook's dedupe claim."""
    return scoped(tenant_id, source, delivery_id)


@dataclass(frozen=True)
class KeySpec:
    """One key (or family of keys) under the namespace: `<name>` marks a variable part."""

    template: str
    type: str
    ttl: str
    what: str

    def pattern(self, namespace: str) -> re.Pattern[str]:
        """A regex matching every key this line describes in `namespace`."""
        parts = re.split(r"(<[a-z_]+>)", f"{namespace}:{self.template}")
        return re.compile("".join(_PLACEHOLDER.get(p, re.escape(p)) for p in parts) + "$")


# A variable part is one segment (no colon), except where the value itself may hold colons.
_ANY_SEGMENT = r"[^:]+"
_PLACEHOLDER = {
    "<ticket_key>": r".+",
    "<event_key>": r".+",
    "<delivery_key>": r".+",
    "<queue>": r"(?!__)[A-Za-z0-9_\-]+(?:\.DQ)?",
} | {name: _ANY_SEGMENT for name in ("<day>", "<reservation_id>", "<source>", "<bucket>",
                                     "<name>", "<ms>", "<worker>",
                                     "<tenant>", "<version>", "<run_id>")}  # fmt: skip

KEY_TABLE: tuple[KeySpec, ...] = (
    KeySpec("caps", "hash", "none", "cap overrides (micros)"),
    KeySpec("caps:audit", "list", "none (capped 1000)", "who changed a cap and when"),
    KeySpec("ledger:<day>", "hash", "8 days", "the day's books (see above)"),
    KeySpec("res:<reservation_id>", "hash", "lease + 1 day", "one reservation (see above)"),
    KeySpec("res:leases", "zset", "none", "reservation id by expiry ms"),
    KeySpec("res:by_ticket", "hash", "none (entries cleaned)", "event key -> reservation"),
    KeySpec(
        "pace",
        "hash",
        "none",
        "the admission bucket and the live plan (shared/stores/live_plan.py)",
    ),
    KeySpec("parked", "zset", "none", "parked member by release ms"),
    KeySpec("parked:msg", "hash", "none", "parked member -> message"),
    KeySpec("parked:inflight", "zset", "none", "member being released, by take ms"),
    KeySpec("parked:reason", "hash", "none", "parked member -> reason"),
    KeySpec("dedupe:<delivery_key>", "string", "dedupe window", "first job id"),
    KeySpec(
        "ticket:<ticket_key>",
        "hash",
        "outcome retention (swept) + 1 day",
        "the outcome and conversation",
    ),
    KeySpec(
        "thread:<ticket_key>",
        "list",
        "outcome retention (swept) + 1 day",
        "the ticket's last N thread entries",
    ),
    KeySpec("outcomes:index", "zset", "none (swept at outcome retention)", "key by update ms"),
    KeySpec("outcomes:index:counts", "hash", "none", "status -> tickets in it (swept too)"),
    KeySpec("dlq:entries", "hash", "retention (by sweep)", "entry id -> JSON entry"),
    KeySpec("dlq:index", "zset", "retention (by sweep)", "entry id by failure ms"),
    KeySpec("dlq:requeued:<event_key>:<ms>", "string", "1 day", "one requeue per dead letter"),
    KeySpec("dlq:reasons", "set", "none", "every reason code ever dead-lettered"),
    KeySpec("dlq:inflight", "hash", "none (entries cleaned)", "entry id -> requeue in progress"),
    KeySpec("dlq:run:<run_id>", "string", "5 s (renewed)", "a live requeue run's lease"),
    KeySpec("budget:paused", "hash", "none", "paused scope -> who, why, since"),
    KeySpec("circuit", "hash", "none", "provider circuit breaker"),
    KeySpec("circuit:window:<bucket>", "hash", "2 windows", "ok/error counts"),
    KeySpec("circuit:probe", "string", "probe timeout", "half-open probe token"),
    KeySpec("scheduler:leader", "string", "lease", "the leader's id"),
    KeySpec("scheduler:fence", "string", "none", "fencing token counter"),
    KeySpec("scheduler:spend_samples", "zset", "none (trimmed 2 h)", "tenant spend snapshots"),
    KeySpec("provider:limits", "hash", "none", "provider rate-limit headers"),
    KeySpec("alerts:<day>", "hash", "8 days", "alert -> fired at"),
    KeySpec("callback:<event_key>", "string", "outcome retention + 1 day", "reply delivered"),
    KeySpec("assign:<event_key>", "string", "outcome retention + 1 day", "hand-off assigned"),
    KeySpec("replay:checkpoint:<name>", "hash", "30 days", "replay resume position"),
    KeySpec("ops:spend_hourly:<day>", "hash", "8 days", "hour -> cumulative spent"),
    KeySpec("history:events", "stream", "none (archived: XDEL)", "facts for the history DB"),
    KeySpec("history:rejects", "list", "none (capped 100,000)", "unparsable entry + reason"),
    KeySpec("kb:tenants", "set", "none", "tenants with a help centre"),
    KeySpec("kb:<tenant>:current", "string", "none", "the served index version"),
    KeySpec("kb:<tenant>:index:<version>", "string", "see above", "an index image (SQLite)"),
    KeySpec("kb:<tenant>:lock", "string", "import lease (renewed)", "one import at a time"),
    KeySpec("demand:arrivals:<day>", "hash", "8 days", "hour -> live tickets accepted"),
    KeySpec(
        "demand:tickets:<day>",
        "hash",
        "8 days",
        "<n|micros|prompt|cached|completion>:<model> -> agent runs",
    ),
    KeySpec("demand:slo:<day>", "hash", "8 days", "live first responses within/past the SLO"),
    KeySpec(
        "resolution:ticket:<ticket_key>",
        "hash",
        "30 days from its last event",
        "a ticket's resolution state",
    ),
    KeySpec(
        "resolution:window",
        "zset",
        "none (left when resolved)",
        "awaiting ticket key by last answer ms",
    ),
    KeySpec("resolution:bucket:<bucket>", "hash", "8 days", "a quarter hour's resolution counts"),
    # dramatiq's Redis broker (its dispatch.lua lists them), under `<ns>:dq`.
    KeySpec("dq:<queue>", "list", "none", "queued message ids"),
    KeySpec("dq:<queue>.msgs", "hash", "none", "message id -> message"),
    KeySpec("dq:<queue>.XQ", "zset", "dramatiq's dead-message TTL", "dead-lettered ids"),
    KeySpec("dq:<queue>.XQ.msgs", "hash", "dramatiq's dead-message TTL", "dead-lettered messages"),
    KeySpec("dq:__heartbeats__", "zset", "none", "worker id by last heartbeat"),
    KeySpec("dq:__acks__.<worker>.<queue>", "set", "none", "fetched, not yet acked"),
)


def describe(key: str, namespace: str) -> KeySpec | None:
    """The table line that describes `key`, or None (a key the table does not know)."""
    for spec in KEY_TABLE:
        if spec.pattern(namespace).match(key):
            return spec
    return None


@dataclass(frozen=True)
class Keys:
    namespace: str

    def _k(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    # dramatiq writes `<dramatiq_namespace>:<queue>`, `.msgs`, `.DQ`, heartbeats, ...
    @property
    def dramatiq_namespace(self) -> str:
        return self._k("dq")

    def queue_wake(self) -> str:
        """The pub/sub channel (not a key: nothing is stored) on which the intake names a queue
        it just put a message on, so idle consumers fetch at once (shared/queue_wake.py)."""
        return f"{self.dramatiq_namespace}:wake"

    def dramatiq_queue(self, queue_name: str) -> str:
        """dramatiq's list of a queue's message ids (`.msgs` beside it holds the messages)."""
        return f"{self.dramatiq_namespace}:{queue_name}"

    def dramatiq_dead(self, queue_name: str) -> str:
        """dramatiq's dead-letter zset for a queue (a delay queue `x.DQ` dead-letters into `x`)."""
        return f"{self.dramatiq_namespace}:{queue_name.removesuffix('.DQ')}.XQ"

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

    @property
    def parked_inflight(self) -> str:
        return self._k("parked", "inflight")

    @property
    def parked_reasons(self) -> str:
        return self._k("parked", "reason")

    def dedupe(self, delivery_key: str) -> str:
        return self._k("dedupe", delivery_key)

    def ticket(self, ticket_key: str) -> str:
        return self._k("ticket", ticket_key)

    def thread(self, ticket_key: str) -> str:
        """A live ticket's bounded conversation (shared/stores/threads.py)."""
        return self._k("thread", ticket_key)

    @property
    def outcomes_index(self) -> str:
        return self._k("outcomes", "index")

    @property
    def outcomes_counts(self) -> str:
        return self._k("outcomes", "index", "counts")

    @property
    def dlq_entries(self) -> str:
        return self._k("dlq", "entries")

    @property
    def dlq_index(self) -> str:
        return self._k("dlq", "index")

    def dlq_requeued(self, event_key: str, dead_at_ms: int) -> str:
        return self._k("dlq", "requeued", event_key, str(dead_at_ms))

    @property
    def dlq_reasons(self) -> str:
        return self._k("dlq", "reasons")

    @property
    def dlq_inflight(self) -> str:
        return self._k("dlq", "inflight")

    def dlq_run(self, run_id: str) -> str:
        return self._k("dlq", "run", run_id)

    @property
    def budget_paused(self) -> str:
        return self._k("budget", "paused")

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

    def callback(self, event_key: str) -> str:
        return self._k("callback", event_key)

    def assignment(self, event_key: str) -> str:
        """A hand-off's assignment at the vendor, sent once (like the reply's marker)."""
        return self._k("assign", event_key)

    def replay_checkpoint(self, name: str) -> str:
        return self._k("replay", "checkpoint", name)

    def spend_hourly(self, day: str) -> str:
        return self._k("ops", "spend_hourly", day)

    @property
    def history_stream(self) -> str:
        return self._k("history", "events")

    @property
    def history_rejects(self) -> str:
        return self._k("history", "rejects")

    @property
    def kb_tenants(self) -> str:
        return self._k("kb", "tenants")

    def kb_current(self, tenant: str) -> str:
        return self._k("kb", tenant, "current")

    def kb_index(self, tenant: str, version: str) -> str:
        return self._k("kb", tenant, "index", version)

    def kb_lock(self, tenant: str) -> str:
        return self._k("kb", tenant, "lock")

    def demand_arrivals(self, day: str) -> str:
        return self._k("demand", "arrivals", day)

    def demand_tickets(self, day: str) -> str:
        return self._k("demand", "tickets", day)

    def demand_slo(self, day: str) -> str:
        return self._k("demand", "slo", day)

    def resolution(self, ticket_key: str) -> str:
        return self._k("resolution", "ticket", ticket_key)

    @property
    def resolution_prefix(self) -> str:
        return self._k("resolution", "ticket") + ":"

    @property
    def resolution_window(self) -> str:
        return self._k("resolution", "window")

    def resolution_bucket(self, bucket: str) -> str:
        return self._k("resolution", "bucket", bucket)

    @property
    def resolution_bucket_prefix(self) -> str:
        return self._k("resolution", "bucket") + ":"

    def scan_pattern(self) -> str:
        """Every key of this namespace; tests use it to clean up only what they wrote."""
        return self._k("*")
