"""The outcome store's sweep: tickets past PACELINE_OUTCOME_RETENTION_S leave the hash, the index
and the counts together; anything changed since stays."""

from __future__ import annotations

import redis

from shared.keys import OUTCOME_SWEEP_GRACE_S, Keys
from shared.models import Outcome, OutcomeStatus
from shared.stores.outcomes import OutcomeStore

RETENTION_S = 600
T0_MS = 1_764_000_000_000


def outcome(n: int, status: OutcomeStatus, at_ms: int, tenant: str = "acme") -> Outcome:
    return Outcome(
        ticket_id=f"T-{n}", event_id=f"e-{n}", tenant_id=tenant, status=status,
        updated_at_ms=at_ms, enqueued_at_ms=at_ms,
    )  # fmt: skip


def test_a_sweep_deletes_what_its_retention_passed_and_keeps_the_counts_true(
    namespace: str, r: redis.Redis
) -> None:
    keys = Keys(namespace)
    store = OutcomeStore(r, keys, RETENTION_S)
    # Given five tickets answered at T0, two escalated a minute later, one still pending
    for n in range(5):
        store.finalize(outcome(n, OutcomeStatus.ANSWERED, T0_MS))
    for n in (5, 6):
        store.finalize(outcome(n, OutcomeStatus.ESCALATED, T0_MS + 60_000))
    store.mark_pending(outcome(7, OutcomeStatus.PENDING, T0_MS))
    # And one of the first five changed again later (a redrive's force), so its clock restarts
    store.force(outcome(0, OutcomeStatus.ANSWERED, T0_MS + 300_000))
    ttl = r.ttl(keys.ticket(outcome(1, OutcomeStatus.ANSWERED, 0).key))
    assert RETENTION_S < ttl <= RETENTION_S + OUTCOME_SWEEP_GRACE_S
    # When the sweep runs before the retention has passed: nothing goes
    assert store.sweep(T0_MS + RETENTION_S * 1000 - 1) == 0
    # When it runs once the retention has passed for those of T0 (with a batch of 2)
    swept_at_ms = T0_MS + RETENTION_S * 1000
    assert store.sweep(swept_at_ms, batch=2) == 4
    # Then the four answered at T0 are gone: hash, index entry and count
    gone = [outcome(n, OutcomeStatus.ANSWERED, 0).key for n in (1, 2, 3, 4)]
    assert all(store.get(k) is None for k in gone)
    assert all(r.zscore(keys.outcomes_index, k) is None for k in gone)
    counts = store.summary()
    assert counts["answered"] == 1 and counts["escalated"] == 2 and counts["pending"] == 1
    assert counts["total"] == r.zcard(keys.outcomes_index) == 4
    # And the pending one (still owed an answer) stays, its retention started again
    waiting = outcome(7, OutcomeStatus.PENDING, 0).key
    assert store.get(waiting) is not None
    assert r.zscore(keys.outcomes_index, waiting) == swept_at_ms
    # And the rest go at their own retention
    assert store.sweep(T0_MS + (RETENTION_S + 300) * 1000) == 3
    assert store.summary()["total"] == 1 and r.zcard(keys.outcomes_index) == 1


def test_an_index_entry_whose_hash_already_expired_is_still_removed(
    namespace: str, r: redis.Redis
) -> None:
    keys = Keys(namespace)
    store = OutcomeStore(r, keys, RETENTION_S)
    store.finalize(outcome(1, OutcomeStatus.ANSWERED, T0_MS))
    # Given a ticket hash gone before the sweep came (no scheduler for longer than the grace)
    r.delete(keys.ticket(outcome(1, OutcomeStatus.ANSWERED, 0).key))
    # Then the sweep still takes its index entry out, and nothing else
    assert store.sweep(T0_MS + RETENTION_S * 1000) == 1
    assert r.zcard(keys.outcomes_index) == 0


def test_a_conversation_goes_with_its_ticket_and_a_human_owned_one_is_swept_too(
    namespace: str, r: redis.Redis
) -> None:
    keys = Keys(namespace)
    store = OutcomeStore(r, keys, RETENTION_S)
    # Given a live ticket answered at T0 with its thread, and one a person owns since T0
    answered = outcome(1, OutcomeStatus.ANSWERED, T0_MS)
    store.finalize(answered, thread_entry='{"k":"out"}', thread_max=20, auto_reply=True)
    owned = outcome(2, OutcomeStatus.HUMAN_OWNED, T0_MS)
    store.finalize(owned, thread_entry='{"k":"out"}', thread_max=20)
    assert r.exists(keys.thread(answered.key)) and r.exists(keys.thread(owned.key))
    # When their retention has passed
    assert store.sweep(T0_MS + RETENTION_S * 1000) == 2
    # Then both go, thread and all (a human-owned ticket is final, never kept as in flight)
    for o in (answered, owned):
        assert store.get(o.key) is None and not r.exists(keys.thread(o.key))
    assert store.summary()["total"] == 0
