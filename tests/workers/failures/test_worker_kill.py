"""Two worker processes, one SIGKILLed twice mid-call during 300 tickets: every ticket ends in
exactly one state, and a repeated callback (a worker died between sending and recording)
carries the same idempotency key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict

import pytest
import redis

from shared.keys import Keys
from shared.stores.outcomes import OutcomeStore
from tests.conftest import REDIS_URL, ROOT, SimulatorProcess, make_settings
from tests.helpers import CallbackReceiver, wait_for
from tests.workers.failures.helpers import enqueue, final_count

TICKETS = 300


def _worker(namespace: str, sim: SimulatorProcess) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PACELINE_REDIS_URL": REDIS_URL,
        "PACELINE_NAMESPACE": namespace,
        "PACELINE_LLM_BASE_URL": sim.base_url,
        "PACELINE_LLM_API_KEY": "sk-test",
        "PACELINE_PACING": "off",
        "PACELINE_HEARTBEAT_TIMEOUT_MS": "3000",
        "PACELINE_LOG_LEVEL": "WARNING",
        # The callback receiver listens on loopback.
        "PACELINE_ALLOW_PRIVATE_NETWORKS": "true",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", "worker", "--threads", "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_sigkill_mid_call_loses_nothing(
    namespace: str, r: redis.Redis, private_simulator: SimulatorProcess
) -> None:
    sim = private_simulator
    sim.faults(latency_ms=75)  # long enough that a kill lands mid-call
    settings = make_settings(namespace, pacing="off")
    store = OutcomeStore(r, Keys(namespace))
    steady, victim = _worker(namespace, sim), _worker(namespace, sim)
    try:
        with CallbackReceiver() as callback:
            # Given 300 tickets with a callback, served by two workers
            enqueue(settings, r, TICKETS, callback_url=callback.url)
            # When one worker is killed with SIGKILL twice while calls are in flight
            for at in (40, 140):
                assert wait_for(lambda at=at: final_count(store) >= at, 60), store.summary()
                assert wait_for(lambda: int(sim.stats()["in_flight"]) > 0, 10)
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=10)
                victim = _worker(namespace, sim)
            # Then every ticket reaches one final state
            assert wait_for(lambda: final_count(store) >= TICKETS, 50), store.summary()
            time.sleep(0.5)  # a late duplicate callback would land by now
            received = list(callback.received)
    finally:
        for proc in (steady, victim):
            proc.terminate()
        for proc in (steady, victim):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    counts = store.summary()
    assert counts["total"] == TICKETS and counts["pending"] == counts["parked"] == 0, counts
    assert counts["answered"] + counts["escalated"] == TICKETS, counts
    keys_by_ticket: dict[str, set[str]] = defaultdict(set)
    for call in received:
        keys_by_ticket[call["body"]["ticket_id"]].add(call["headers"]["Idempotency-Key"])
    # And each ticket was called back, any repeat with the same idempotency key
    assert len(keys_by_ticket) == TICKETS
    assert all(len(k) == 1 for k in keys_by_ticket.values())
