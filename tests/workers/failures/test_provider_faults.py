"""A worker against a faulty provider: 429s are waited out as asked and bounded; quota and
context-length errors dead-letter on the first attempt with their reason."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
import redis

from shared.keys import event_key
from shared.models import OutcomeStatus
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import tkey, wait_for
from tests.workers.failures.helpers import attempts_by_ticket, enqueue
from workers.runtime import RunningWorker


def _settings(namespace: str, sim: SimulatorProcess, **over: object):  # type: ignore[no-untyped-def]
    return make_settings(
        namespace, llm_base_url=sim.base_url, llm_api_key="sk-test", pacing="off", **over
    )


def test_rate_limit_retry_after_is_waited_and_bounded(
    namespace: str, r: redis.Redis, private_simulator: SimulatorProcess
) -> None:
    # Given a provider answering every call 429 with Retry-After 1.2 s, and 2 retries allowed
    sim = private_simulator
    sim.faults(error_rate=1.0, error_kind="rate_limit", retry_after_ms=1200)
    settings = _settings(namespace, sim, max_retries=2, retry_base_ms=1, retry_max_ms=5000)
    seen_at: list[float] = []
    stop = threading.Event()

    def watch() -> None:  # when each request reached the provider, to 10 ms
        last = 0
        while not stop.is_set():
            n = int(sim.stats()["requests"])
            seen_at.extend([time.monotonic()] * (n - last))
            last = n
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with RunningWorker(settings, threads=1) as worker:
        store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)
        # When one ticket arrives
        enqueue(settings, r, 1)
        assert wait_for(
            lambda: (o := store.get(tkey("T-1"))) is not None and o.status == "parked", 20
        )
    stop.set()
    watcher.join()
    # Then the provider saw exactly 1 + 2 attempts, each at least Retry-After after the last
    assert len(seen_at) == 3, seen_at
    gaps = [b - a for a, b in itertools.pairwise(seen_at)]
    # (the watcher polls, so a loaded machine can see a request late and a gap short by a
    # poll; without Retry-After the backoff here would be milliseconds, not a second)
    assert all(g >= 1.0 for g in gaps), gaps
    # And each attempt was drawn from the ticket's envelope; the ticket is parked, not dead
    calls = attempts_by_ticket(r, worker.ctx.keys)[event_key("acme", "generic", "T-1", "evt-1")]
    assert len(calls) == 3
    outcome = store.get(tkey("T-1"))
    assert outcome is not None and outcome.reason == "rate_limited"
    assert worker.ctx.dead_letters.size() == 0


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("insufficient_quota", "insufficient_quota"), ("context_length", "context_length_exceeded")],
)
def test_permanent_errors_dead_letter_after_one_attempt(
    namespace: str, r: redis.Redis, private_simulator: SimulatorProcess, kind: str, reason: str
) -> None:
    # Given a provider refusing every call for good, and 3 retries allowed
    sim = private_simulator
    sim.faults(error_rate=1.0, error_kind=kind)
    settings = _settings(namespace, sim, max_retries=3)
    with RunningWorker(settings, threads=2) as worker:
        store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)
        # When three tickets arrive
        enqueue(settings, r, 3)
        assert wait_for(lambda: store.summary()["dead_lettered"] == 3, 20)
        # Then each was dead-lettered after one attempt, with the provider's reason
        entries = list(worker.ctx.dead_letters.iter_entries())
    assert sorted(e.ticket_id for e in entries) == ["T-1", "T-2", "T-3"]
    assert {e.reason for e in entries} == {reason}
    assert all(e.attempts == 1 for e in entries)
    assert int(sim.stats()["requests"]) == 3
    for i in (1, 2, 3):
        outcome = store.get(tkey(f"T-{i}"))
        assert outcome is not None and outcome.status == OutcomeStatus.DEAD_LETTERED
        assert outcome.reason == reason and outcome.attempts == 1
