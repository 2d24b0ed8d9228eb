"""A provider outage in the middle of 300 tickets: the circuit opens, admission parks work
instead of burning retries into the DLQ, and every ticket is answered after recovery.

The outage lasts OUTAGE_S (40 s) on the worker's injected clock, which runs SPEED times faster
than real time: the circuit's open time, the retries' backoff and the parked tickets' release
all read that clock, so the test waits 4 real seconds, not 40."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import redis

from shared.clock import ScaledClock
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import wait_for
from tests.workers.failures.helpers import Releaser, attempts_by_ticket, enqueue, final_count
from workers.runtime import RunningWorker

OUTAGE_S = 40.0
SPEED = 10.0
TICKETS = 300
MAX_RETRIES = 3


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_outage_parks_behind_the_circuit_and_recovers(
    namespace: str, r: redis.Redis, private_simulator: SimulatorProcess
) -> None:
    sim = private_simulator
    sim.faults(latency_ms=20)
    settings = make_settings(
        namespace,
        llm_base_url=sim.base_url,
        llm_api_key="sk-test",
        pacing="off",
        max_retries=MAX_RETRIES,
        retry_base_ms=200,
        retry_max_ms=2000,
        circuit_open_s=2,
        circuit_min_calls=10,
        circuit_error_rate_pct=50,
    )
    clock = ScaledClock(time.time(), SPEED)
    with (
        RunningWorker(settings, threads=8, clock=clock) as worker,
        Releaser(worker.ctx, worker.broker),
    ):
        store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)
        # Given 300 tickets being answered
        enqueue(settings, r, TICKETS)
        assert wait_for(lambda: final_count(store) >= 60, 30)
        # When the provider answers 503 to everything for OUTAGE_S on the worker's clock
        before = int(sim.stats()["requests"])
        sim.faults(error_rate=1.0, error_kind="unavailable")
        clock.sleep(OUTAGE_S)
        during = int(sim.stats()["requests"]) - before
        sim.faults(error_rate=0.0)
        # Then after recovery every ticket is answered
        assert wait_for(lambda: final_count(store) >= TICKETS, 40), store.summary()
        circuit = worker.ctx.circuit.snapshot()

    counts = store.summary()
    assert counts["dead_lettered"] == 0 and worker.ctx.dead_letters.size() == 0, counts
    assert counts["answered"] + counts["escalated"] == TICKETS, counts
    # And the circuit opened, so the outage cost far fewer calls than tickets x attempts
    assert circuit["opens"] >= 1, circuit
    assert during < TICKETS, during
    # And no model call was attempted more than 1 + MAX_RETRIES times in any run
    per_call: Counter[str] = Counter()
    for calls in attempts_by_ticket(r, worker.ctx.keys).values():
        for call_id in calls:
            nonce, run, step, attempt = call_id.split(":")
            assert int(attempt) <= MAX_RETRIES, call_id
            per_call[f"{nonce}:{run}:{step}"] += 1
    assert max(per_call.values()) <= 1 + MAX_RETRIES
