"""Latency a customer feels (issue 23): enqueue -> answer, less the provider's own time.

`paceline worker` (2 processes x 16 threads) against the simulator at 300 ms a call. First
its capacity: a backlog's tickets/s. Then open-loop arrivals, a Poisson process at 25%, 50%
and 75% of that capacity (each ticket enqueued through the intake at its own time, whether or
not earlier ones are done). Overhead per ticket = its enqueue-to-answer latency (the outcome's
`latency_ms`) less its model calls times what one takes a client at that moment (a bare SDK
call to the same simulator, measured beside the load: its 300 ms, its own work and the HTTP).
Queueing, polling, admission, the agent's own work and the Redis round trips are overhead.
"""

from __future__ import annotations

import logging
import random
import statistics
import threading
import time
from typing import Any

import openai
import redis

from producers.enqueue import build_intake
from shared.broker import build_broker
from shared.clock import SystemClock
from shared.keys import Keys
from shared.models import Lane, Ticket
from shared.settings import load_settings
from shared.stores.outcomes import OutcomeStore
from tests.bench.common import row
from tests.bench.overhead_procs import Side, ticket_doc
from tests.conftest import REDIS_URL, SimulatorProcess
from workers.agent.prompt import first_messages
from workers.agent.tools.schemas import tool_schemas

ISSUE = 23
COMMAND = ".venv/bin/python tests/bench/run_all.py --only latency"
PROVIDER_MS = 300
LOADS = (0.25, 0.5, 0.75)
TARGET_P50_MS = 15
TARGET_P99_MS = 60


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), q[94], q[98]


class ProviderProbe:
    """What one model call takes as a client sees it (the simulator's 300 ms, its own work
    and the HTTP both ways), measured beside the load: a bare SDK call with a ticket's
    prompt and the four tool schemas, a few times a second."""

    def __init__(self, base_url: str) -> None:
        self._sdk = openai.OpenAI(base_url=base_url, api_key="sk-bench-probe", max_retries=0)
        self._stop = threading.Event()
        self.durations_ms: list[float] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProviderProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sdk.close()

    def _run(self) -> None:
        ticket = Ticket.model_validate(ticket_doc(0, "probe"))
        messages: Any = first_messages(ticket, 10_000)
        tools: Any = tool_schemas()
        while not self._stop.is_set():
            start = time.perf_counter()
            self._sdk.chat.completions.create(
                model="gpt-4o-mini", messages=messages, tools=tools, max_tokens=600
            )
            self.durations_ms.append((time.perf_counter() - start) * 1000)
            self._stop.wait(0.2)

    def call_ms(self) -> float:
        return statistics.median(self.durations_ms)


def open_loop(
    side: Side, rate_per_s: float, seconds: float, tag: str, seed: int
) -> list[tuple[float, int]]:
    """Enqueue a Poisson stream for `seconds`, wait for every answer: each ticket's
    enqueue-to-answer ms and its model calls."""
    env = {k: v for k, v in side.env.items() if k.startswith("PACELINE_")}
    settings = load_settings(env)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    broker = build_broker(settings)
    intake = build_intake(settings, broker, client, SystemClock())
    rng = random.Random(seed)
    sent: list[str] = []
    try:
        start = time.monotonic()
        due = 0.0
        n = 0
        while True:
            due += rng.expovariate(rate_per_s)
            if due > seconds:
                break
            wait = start + due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            doc = ticket_doc(n, tag)
            intake.submit(Ticket.model_validate(doc), Lane.LIVE)
            sent.append(doc["ticket_id"])
            n += 1
        store = OutcomeStore(client, Keys(side.namespace))
        deadline = time.monotonic() + 120
        keys = [Ticket.model_validate(ticket_doc(i, tag)).key for i in range(n)]
        while True:
            got = [store.get(k) for k in keys]
            if all(o is not None and o.status.is_final for o in got):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{tag}: not every ticket answered in time")
            time.sleep(0.25)
    finally:
        broker.close()
        client.close()
    answered = [o for o in got if o is not None and o.status.value == "answered" and o.llm_calls]
    if len(answered) != len(got):
        raise AssertionError(f"not every ticket answered: {got[:3]}")
    return [(float(o.latency_ms or 0), o.llm_calls) for o in answered]


def run(quick: bool = False) -> list[dict[str, Any]]:
    logging.getLogger("dramatiq").setLevel(logging.ERROR)
    seconds = 15.0 if quick else 40.0
    sim = SimulatorProcess("--seed", "7")
    side: Side | None = None
    rows: list[dict[str, Any]] = []
    try:
        sim.faults(latency_ms=PROVIDER_MS)
        side = Side("paceline", sim, 2, 16)
        side.run([ticket_doc(i, "warm") for i in range(64)], timeout_s=180)
        burst = side.run([ticket_doc(i, "capacity") for i in range(160 if quick else 320)])
        capacity = burst.calls_per_s / burst.calls_per_ticket
        rows.append(row(ISSUE, f"capacity at {PROVIDER_MS} ms/call, 2x16 (backlog)", capacity,
                        "tickets/s", target="report", command=COMMAND))  # fmt: skip
        for i, load in enumerate(LOADS):
            with ProviderProbe(sim.base_url) as probe:
                latencies = open_loop(side, load * capacity, seconds, f"load{i}", seed=23 + i)
            provider_ms = probe.call_ms()
            overheads = [ms - calls * provider_ms for ms, calls in latencies]
            p50, p95, p99 = _quantiles(overheads)
            rows.append(row(ISSUE, f"provider time per call at {load:.0%} (bare SDK call, "
                            f"median of {len(probe.durations_ms)})", provider_ms, "ms",
                            target="report", command=COMMAND))  # fmt: skip
            pct = f"{load:.0%}"
            at_half = load == 0.5
            for name, value, target in (
                ("p50", p50, TARGET_P50_MS), ("p95", p95, None), ("p99", p99, TARGET_P99_MS)
            ):  # fmt: skip
                judged = at_half and target is not None
                rows.append(row(
                    ISSUE,
                    f"{name} latency overhead at {pct} of capacity ({len(overheads)} tickets, "
                    "Poisson, provider time subtracted)",
                    value, "ms", higher_is_better=False,
                    target=f"<= {target} ms" if judged else "report",
                    passed=(value <= target) if judged and target is not None else None,
                    command=COMMAND,
                ))  # fmt: skip
    finally:
        if side is not None:
            side.stop()
        sim.stop()
    return rows
