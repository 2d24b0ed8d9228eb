"""A worker killed with SIGKILL mid-ticket: its hold expires, nothing is counted twice,
the ticket is answered by another worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import redis

from producers.enqueue import Intake
from shared.broker import build_broker
from shared.clock import ManualClock, SystemClock
from shared.keys import Keys
from shared.ledger import Ledger
from shared.models import OutcomeStatus, Ticket
from shared.stores.outcomes import OutcomeStore
from tests.conftest import REDIS_URL, ROOT, SimulatorProcess, make_settings
from tests.helpers import generic_ticket, tkey, wait_for


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", "worker", "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def open_reservations(client: redis.Redis, keys: Keys) -> list[dict[str, str]]:
    # (leases below +inf: the set's layout mark sits at +inf)
    rids = client.zrangebyscore(keys.leases, "-inf", "(+inf")
    return [client.hgetall(keys.reservation(rid)) for rid in rids]


def test_sigkill_mid_call_leaks_no_reservation_and_counts_nothing_twice(
    namespace: str, private_simulator: SimulatorProcess, r: redis.Redis
) -> None:
    # Given a slow provider (so the kill lands mid-call) and a short lease and heartbeat
    private_simulator.faults(latency_ms=2500)
    overrides = dict(
        llm_base_url=private_simulator.base_url,
        llm_api_key="sk-test",
        reservation_lease_s=6,
        heartbeat_timeout_ms=2000,
        broker_maintenance_per_million=500_000,
    )
    settings = make_settings(namespace, **overrides)
    env = {**os.environ, "PACELINE_REDIS_URL": REDIS_URL}
    env.update({f"PACELINE_{k.upper()}": str(v) for k, v in overrides.items()})
    env["PACELINE_NAMESPACE"] = namespace
    keys = Keys(namespace)
    ledger = Ledger(r, keys, settings, SystemClock())
    broker = build_broker(settings)
    intake = Intake(broker=broker, client=r, keys=keys, clock=SystemClock(), dedupe_window_s=600)
    first = start_worker(env)
    try:
        intake.submit(Ticket.model_validate(generic_ticket(1)))
        # When the worker is killed while a model call is in flight (drawn, not settled)
        assert wait_for(
            lambda: any(int(h.get("drawn", 0)) > 0 for h in open_reservations(r, keys)),
            timeout_s=20,
        )
        held = open_reservations(r, keys)[0]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert ledger.reserved() > 0
        # Then once the lease has run out (a reaper whose injected clock is past it; nothing
        # waits in real time) its hold is gone: the in-flight draw is charged at its worst
        # case (the provider may have billed it) and the rest goes back to the caps
        later = ManualClock(time.time() + settings.reservation_lease_s + 0.5)
        assert Ledger(r, keys, settings, later).reap() >= 1
        assert ledger.reserved() == 0
        charged = ledger.spent()
        assert charged == int(held["drawn"]) + int(held.get("taken", 0))
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # And another worker answers the re-delivered ticket, drawing from a new envelope
    private_simulator.faults(latency_ms=0)
    second = start_worker(env)
    try:
        store = OutcomeStore(r, keys)
        assert wait_for(
            lambda: (o := store.get(tkey("T-1"))) is not None and o.status.is_final, timeout_s=60
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    outcome = store.get(tkey("T-1"))
    assert outcome is not None and outcome.status == OutcomeStatus.ANSWERED
    # Nothing counted twice: spent = the crashed call's charge + what the answer cost
    assert ledger.spent() == charged + outcome.cost_micros
    assert ledger.reserved() == 0
    broker.close()
