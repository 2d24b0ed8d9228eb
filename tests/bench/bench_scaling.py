"""The scaling curve: tickets/s and p95 ticket latency through the whole worker (admission,
agent, simulator over HTTP, settle, outcome) against worker threads and provider latency.
Writes bench-scaling.png (matplotlib) beside bench-results.json."""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Any

from shared.models import Ticket
from tests.bench.common import Timer, bench_namespace, row
from tests.conftest import SimulatorProcess
from tests.helpers import generic_ticket, worker_intake
from workers.runtime import RunningWorker

COMMAND = ".venv/bin/python tests/bench/run_all.py --only scaling"
ROOT = Path(__file__).resolve().parents[2]


def one_run(sim: SimulatorProcess, threads: int, latency_ms: int, n: int) -> tuple[float, float]:
    sim.faults(latency_ms=latency_ms)
    env = {
        "llm_base_url": sim.base_url,
        "llm_api_key": "sk-bench",
        "pacing": "off",
        "daily_ceiling_usd": "1000",
        "tenant_daily_cap_usd": "1000",
        "user_daily_cap_usd": "1000",
    }
    with bench_namespace(**env) as settings:
        running = RunningWorker(settings, threads=threads)
        ctx = running.ctx
        intake = worker_intake(running)
        for i in range(n):
            intake.submit(Ticket.model_validate(generic_ticket(i)))
        with Timer() as timer:
            running.start()
            while ctx.outcomes.summary()["pending"] > 0:
                time.sleep(0.02)
        latencies = sorted(o.latency_ms or 0 for o in ctx.outcomes.iter_outcomes())
        running.stop()
    p95_s = statistics.quantiles(latencies, n=20)[-1] / 1000 if len(latencies) > 1 else 0.0
    return n / timer.seconds, p95_s


def plot(points: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for latency in sorted({p["latency_ms"] for p in points}):
        series = [p for p in points if p["latency_ms"] == latency]
        xs = [p["threads"] for p in series]
        ax1.plot(
            xs, [p["tickets_per_s"] for p in series], marker="o", label=f"{latency} ms provider"
        )
        ax2.plot(xs, [p["p95_s"] for p in series], marker="o", label=f"{latency} ms provider")
    for ax, title in ((ax1, "throughput (tickets/s)"), (ax2, "p95 enqueue-to-answer (s)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("worker threads")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle("paceline: burst of tickets through one worker process (2 cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(quick: bool = False) -> list[dict[str, Any]]:
    logging.getLogger("dramatiq").setLevel(logging.ERROR)
    threads_list = [4, 16, 64]
    latencies = [0, 250] if quick else [0, 250, 500]
    n = 60 if quick else 120
    points: list[dict[str, Any]] = []
    sim = SimulatorProcess("--seed", "5")
    try:
        for latency in latencies:
            for threads in threads_list:
                tps, p95 = one_run(sim, threads, latency, n)
                points.append(
                    {"threads": threads, "latency_ms": latency, "tickets_per_s": tps, "p95_s": p95}
                )
    finally:
        sim.stop()
    plot(points, ROOT / "bench-scaling.png")
    rows = []
    for p in points:
        rows.append(
            row(
                5,
                f"tickets/s via worker, {p['threads']} threads, provider {p['latency_ms']} ms",
                p["tickets_per_s"],
                "tickets/s",
                command=COMMAND,
            )
        )
        rows.append(
            row(
                9,
                f"p95 enqueue-to-answer, {p['threads']} threads, provider {p['latency_ms']} ms",
                p["p95_s"],
                "s",
                command=COMMAND,
            )
        )
    return rows
