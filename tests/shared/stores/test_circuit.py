"""The provider circuit breaker on the real Redis, with a manual clock: opens on the error
rate, parks admission while open, lets exactly one probe through when half-open."""

from __future__ import annotations

import threading

import redis

from shared.clock import ManualClock
from shared.keys import Keys
from shared.models import Lane, Requester, Ticket
from shared.stores.circuit import REASON, ProviderCircuit
from tests.conftest import make_settings
from workers.admission.gates import check_gate

TICKET = Ticket(event_id="e-1", ticket_id="T-1", tenant_id="acme", requester=Requester(id="u"))


def _circuit(namespace: str, r: redis.Redis, clock: ManualClock) -> ProviderCircuit:
    settings = make_settings(
        namespace, circuit_min_calls=10, circuit_error_rate_pct=50, circuit_open_s=5
    )
    return ProviderCircuit(r, Keys(namespace), settings, clock, window_s=30)


def test_opens_only_past_min_calls_and_rate(namespace: str, r: redis.Redis) -> None:
    clock = ManualClock()
    circuit = _circuit(namespace, r, clock)
    # Given 9 failures: fewer calls than the minimum
    for _ in range(9):
        circuit.record(False)
    # Then the circuit is still closed and admission lets tickets in
    assert circuit.allow() and check_gate(circuit, r, TICKET, Lane.LIVE) is None
    # When enough successes keep the error rate below 50%, it stays closed
    for _ in range(11):
        circuit.record(True)
    circuit.record(False)  # 10 of 21
    assert circuit.snapshot()["state"] == "closed"
    # When failures push the rate over 50% of at least 10 calls, it opens
    for _ in range(3):
        circuit.record(False)
    snap = circuit.snapshot()
    assert snap["state"] == "open" and snap["opens"] == 1, snap
    assert not circuit.allow()
    parked = check_gate(circuit, r, TICKET, Lane.LIVE)
    assert parked is not None and parked[1] == REASON
    assert parked[0] >= snap["retry_at_ms"] == int(clock.now_s() * 1000) + 5000


def test_old_failures_leave_the_window(namespace: str, r: redis.Redis) -> None:
    clock = ManualClock()
    circuit = _circuit(namespace, r, clock)
    # Given 9 failures, then 31 s later (past the 30 s window) 9 more
    for _ in range(9):
        circuit.record(False)
    clock.advance(31)
    for _ in range(9):
        circuit.record(False)
    # Then the window holds only 9 calls: under the minimum, still closed
    assert circuit.snapshot()["state"] == "closed"


def test_half_open_one_probe_across_workers(namespace: str, r: redis.Redis) -> None:
    clock = ManualClock()
    # Two workers' circuits over the same Redis
    a, b = _circuit(namespace, r, clock), _circuit(namespace, r, clock)
    for _ in range(10):
        a.record(False)
    assert not b.allow()
    # When the open time passes, many threads on both workers ask at once
    clock.advance(5.001)
    results: list[bool] = []
    lock = threading.Lock()

    def ask(c: ProviderCircuit) -> None:
        ok = c.allow()
        with lock:
            results.append(ok)
        if ok:
            c.record(False)  # the probe fails: the provider is still down

    threads = [threading.Thread(target=ask, args=(c,)) for c in (a, b) * 8]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly one probe went, its failure re-opened the circuit for another 5 s
    assert results.count(True) == 1
    snap = b.snapshot()
    assert snap["state"] == "open" and snap["opens"] == 2
    assert check_gate(b, r, TICKET, Lane.LIVE) is not None
    # When the next probe succeeds, the circuit closes and the window starts clean
    clock.advance(5.001)
    assert check_gate(a, r, TICKET, Lane.LIVE) is None
    assert a.allow()
    assert check_gate(b, r, TICKET, Lane.LIVE) is not None  # probe in flight: admission waits
    assert not b.allow()
    a.record(True)
    snap = b.snapshot()
    assert snap["state"] == "closed" and snap["window_err"] == 0, snap
    assert b.allow() and check_gate(b, r, TICKET, Lane.LIVE) is None
