"""Provider failures: transient ones retried a bounded number of times, each attempt paid for
from the envelope; permanent ones raised at once. Faults come from a private simulator."""

from __future__ import annotations

import pytest

from shared.clock import ManualClock
from shared.errors import ProviderRateLimited, ProviderRejected, ProviderUnavailable
from tests.conftest import SimulatorProcess
from tests.workers.agent.helpers import agent_settings, build_agent, roomy_budget, ticket

QUESTION = "How do I reset my password?"


class RecoveringClock(ManualClock):
    """A manual clock whose first sleep is when the provider recovers (faults cleared)."""

    def __init__(self, sim: SimulatorProcess) -> None:
        super().__init__()
        self.sim = sim
        self.slept_s: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept_s.append(seconds)
        self.sim.faults(error_rate=0.0)
        super().sleep(seconds)


class MemoryCircuit:
    """The CircuitHook contract in memory: open or closed by hand, outcomes counted."""

    def __init__(self, open_: bool = False) -> None:
        self.open = open_
        self.records: list[bool] = []

    def allow(self) -> bool:
        return not self.open

    def record(self, ok: bool) -> None:
        self.records.append(ok)


def _chat_requests(sim: SimulatorProcess) -> int:
    return int(sim.stats()["requests"])


def test_rate_limit_is_honoured_and_bounded(
    namespace: str, private_simulator: SimulatorProcess
) -> None:
    # Given a provider that always answers 429 with Retry-After 2 s
    sim = private_simulator
    sim.faults(error_rate=1.0, error_kind="rate_limit", retry_after_ms=2000)
    settings = agent_settings(
        namespace, sim.base_url, max_retries=2, retry_base_ms=1, retry_max_ms=10_000
    )
    clock = ManualClock()
    agent = build_agent(settings, clock=clock)
    budget = roomy_budget()
    before_s, before_requests = clock.now_s(), _chat_requests(sim)
    # When the agent runs
    with pytest.raises(ProviderRateLimited) as caught:
        agent.run(ticket(QUESTION), budget)
    agent.close()
    # Then it made max_retries + 1 attempts, each drawn first, none billed (HTTP error replies)
    assert caught.value.attempts == 3  # type: ignore[attr-defined]
    assert _chat_requests(sim) - before_requests == 3
    assert budget.draws == 3 and budget.spent_micros == 0 and budget.held_micros == 0
    # And it waited at least Retry-After before each retry (on the injected clock)
    assert clock.now_s() - before_s >= 2 * 2.0
    assert caught.value.retry_after_s == pytest.approx(2.0)


def test_rate_limit_then_recovery_answers(
    namespace: str, private_simulator: SimulatorProcess
) -> None:
    # Given a provider rate limiting until the agent's first backoff
    sim = private_simulator
    sim.faults(error_rate=1.0, error_kind="rate_limit", retry_after_ms=1500)
    settings = agent_settings(namespace, sim.base_url, retry_base_ms=1)
    clock = RecoveringClock(sim)
    agent = build_agent(settings, clock=clock)
    # When the agent runs
    result = agent.run(ticket(QUESTION), roomy_budget())
    agent.close()
    # Then it answered after one retry that waited the Retry-After, and counted that attempt
    assert result.status == "answered"
    assert clock.slept_s and clock.slept_s[0] >= 1.5
    assert result.attempts == result.llm_calls + 1


def test_retry_after_beyond_our_limit_is_raised_for_parking(
    namespace: str, private_simulator: SimulatorProcess
) -> None:
    # Given a provider asking for a 20 s pause and a retry ceiling of 5 s
    sim = private_simulator
    sim.faults(error_rate=1.0, error_kind="rate_limit", retry_after_ms=20_000)
    settings = agent_settings(namespace, sim.base_url, retry_max_ms=5_000)
    clock = ManualClock()
    agent = build_agent(settings, clock=clock)
    start_s = clock.now_s()
    # When the agent runs
    with pytest.raises(ProviderRateLimited) as caught:
        agent.run(ticket(QUESTION), roomy_budget())
    agent.close()
    # Then it does not sleep in the worker thread: one attempt, the wait handed upward
    assert caught.value.attempts == 1  # type: ignore[attr-defined]
    assert caught.value.retry_after_s == pytest.approx(20.0)
    assert clock.now_s() == start_s


def test_insufficient_quota_is_permanent(
    namespace: str, private_simulator: SimulatorProcess
) -> None:
    # Given a provider account out of quota (a 429 that must never be retried)
    sim = private_simulator
    sim.faults(error_rate=1.0, error_kind="insufficient_quota")
    agent = build_agent(agent_settings(namespace, sim.base_url), clock=ManualClock())
    budget = roomy_budget()
    before = _chat_requests(sim)
    # When the agent runs
    with pytest.raises(ProviderRejected) as caught:
        agent.run(ticket(QUESTION), budget)
    agent.close()
    # Then it stopped after one attempt, drawn and settled at zero
    assert caught.value.reason == "insufficient_quota"
    assert caught.value.attempts == 1  # type: ignore[attr-defined]
    assert _chat_requests(sim) - before == 1
    assert budget.draws == 1 and budget.spent_micros == 0


def test_unavailable_exhausts_retries(namespace: str, private_simulator: SimulatorProcess) -> None:
    # Given a provider answering 503 to everything, and a circuit hook counting outcomes
    sim = private_simulator
    sim.faults(error_rate=1.0, error_kind="unavailable")
    settings = agent_settings(namespace, sim.base_url, max_retries=3, retry_base_ms=100)
    circuit = MemoryCircuit()
    clock = ManualClock()
    agent = build_agent(settings, clock=clock, circuit=circuit)
    budget = roomy_budget()
    before_s, before = clock.now_s(), _chat_requests(sim)
    # When the agent runs
    with pytest.raises(ProviderUnavailable) as caught:
        agent.run(ticket(QUESTION), budget)
    agent.close()
    # Then max_retries + 1 attempts were made and drawn, each failure reported to the circuit
    assert caught.value.attempts == 4  # type: ignore[attr-defined]
    assert _chat_requests(sim) - before == 4
    assert budget.draws == 4 and budget.spent_micros == 0
    assert circuit.records == [False] * 4
    # And the backoff (full jitter, capped by base * 2^n) stayed within its bound
    assert 0 <= clock.now_s() - before_s <= (100 + 200 + 400) / 1000


def test_timeouts_are_paid_at_worst_case(
    namespace: str, private_simulator: SimulatorProcess
) -> None:
    # Given a provider that never answers within our 0.2 s timeout
    sim = private_simulator
    sim.faults(error_rate=1.0, error_kind="timeout", timeout_s=2.0)
    settings = agent_settings(namespace, sim.base_url, max_retries=1, llm_timeout_s=0.2)
    agent = build_agent(settings, clock=ManualClock())
    budget = roomy_budget()
    # When the agent runs
    with pytest.raises(ProviderUnavailable) as caught:
        agent.run(ticket(QUESTION), budget)
    agent.close()
    # Then both attempts were settled at their worst case: the provider may have billed them
    assert caught.value.reason == "timeout"
    assert caught.value.attempts == 2  # type: ignore[attr-defined]
    assert budget.draws == 2 and budget.held_micros == 0
    assert budget.spent_micros > 0
    assert caught.value.cost_micros == budget.spent_micros  # type: ignore[attr-defined]


def test_open_circuit_makes_no_call(namespace: str, private_simulator: SimulatorProcess) -> None:
    # Given an open circuit
    sim = private_simulator
    agent = build_agent(agent_settings(namespace, sim.base_url), circuit=MemoryCircuit(open_=True))
    budget = roomy_budget()
    before = _chat_requests(sim)
    # When the agent runs
    with pytest.raises(ProviderUnavailable) as caught:
        agent.run(ticket(QUESTION), budget)
    agent.close()
    # Then nothing was sent or drawn
    assert caught.value.reason == "circuit_open"
    assert _chat_requests(sim) == before and budget.draws == 0


def test_context_length_rejection(namespace: str, private_simulator: SimulatorProcess) -> None:
    # Given a provider refusing the prompt as too long
    sim = private_simulator
    sim.faults(error_rate=1.0, error_kind="context_length")
    agent = build_agent(agent_settings(namespace, sim.base_url), clock=ManualClock())
    # When the agent runs
    with pytest.raises(ProviderRejected) as caught:
        agent.run(ticket(QUESTION), roomy_budget())
    agent.close()
    # Then it is a permanent error naming the reason, after one attempt
    assert caught.value.reason == "context_length_exceeded"
    assert caught.value.attempts == 1  # type: ignore[attr-defined]
