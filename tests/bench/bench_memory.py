"""What grows with the work (issue 23, item 4): Redis bytes per ticket, worker RSS per thread.

Redis: tickets through the real path (intake -> worker: admission, the agent against the
simulator over HTTP, settle -> outcome, history entry and the reply posted to a callback),
each from its own requester (the books' worst case), then every key of the namespace is
measured with MEMORY USAGE and grouped by its line in `shared/keys.py`'s KEY_TABLE. A family
kept per ticket divides by the tickets; each is then multiplied by its retention (today's
defaults) and a rate to give the steady state: 200 tickets/hour (the seed's load) and 100x.

Worker RSS: `paceline worker --threads T` as its own process, VmRSS from /proc after each batch
of tickets: 16 threads against 1, after the same warm-up, over 15 is a thread's cost; 16
threads over 6,000 tickets shows whether it grows with the tickets worked once warm.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import redis

from producers.enqueue import build_intake
from shared.broker import build_broker
from shared.clock import SystemClock
from shared.keys import OUTCOME_SWEEP_GRACE_S, RESERVATION_EXTRA_TTL_S, Keys, describe
from shared.models import Ticket
from shared.settings import Settings
from shared.stores.outcomes import OutcomeStore
from tests.bench.common import bench_namespace, row
from tests.conftest import REDIS_URL, SimulatorProcess
from tests.helpers import CallbackReceiver, generic_ticket
from workers.runtime import RunningWorker

ISSUE = 23
COMMAND = ".venv/bin/python tests/bench/run_all.py --only memory"
ROOT = Path(__file__).resolve().parents[2]
RATES_PER_H = (200, 20_000)
BATCH = 250  # tickets per batch, between two RSS readings
MONEY = {
    "pacing": "off",
    "daily_ceiling_usd": "1000",
    "tenant_daily_cap_usd": "1000",
    "user_daily_cap_usd": "1000",
}


def _families(r: redis.Redis, namespace: str) -> dict[str, int]:
    """Bytes by KEY_TABLE template (MEMORY USAGE, every element counted)."""
    out: dict[str, int] = defaultdict(int)
    for key in r.scan_iter(match=f"{namespace}:*", count=1000):
        spec = describe(key, namespace)
        name = spec.template if spec else "(undeclared)"
        out[name] += r.memory_usage(key, samples=0) or 0
    return dict(out)


def _wait_final(store: OutcomeStore, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while (s := store.summary())["pending"] + s["parked"] > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("tickets still pending")
        time.sleep(0.05)


def _settings_env(sim: SimulatorProcess) -> dict[str, Any]:
    return {"llm_base_url": sim.base_url, "llm_api_key": "sk-bench", **MONEY}


def _submit(settings: Settings, n: int, start: int, callback_url: str | None) -> None:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    broker = build_broker(settings)
    intake = build_intake(settings, broker, client, SystemClock())
    for i in range(start, start + n):
        over: dict[str, Any] = {"requester": {"id": f"u-{i}", "email": f"u{i}@example.com"}}
        if callback_url:
            over["callback_url"] = callback_url
        intake.submit(Ticket.model_validate(generic_ticket(i, **over)))
    broker.close()
    client.close()


def redis_per_ticket(sim: SimulatorProcess, n: int) -> tuple[dict[str, float], Settings]:
    with bench_namespace(**_settings_env(sim)) as settings, CallbackReceiver() as callback:
        r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        with RunningWorker(settings, threads=8) as worker:
            before = _families(r, settings.namespace)
            _submit(settings, n, 0, callback.url)
            _wait_final(worker.ctx.outcomes)
            after = _families(r, settings.namespace)
        r.close()
    per = {k: (after.get(k, 0) - before.get(k, 0)) / n for k in after}
    return {k: v for k, v in per.items() if v > 0}, settings


def _retention_h(settings: Settings) -> dict[str, float]:
    """How long each per-ticket family is kept, at today's defaults (hours)."""
    outcome_h = settings.outcome_retention_s / 3600
    return {
        "ticket:<ticket_key>": outcome_h,
        "outcomes:index": outcome_h,
        "callback:<event_key>": outcome_h + OUTCOME_SWEEP_GRACE_S / 3600,
        "dedupe:<delivery_key>": settings.dedupe_window_s / 3600,
        "res:<reservation_id>": (settings.reservation_lease_s + RESERVATION_EXTRA_TTL_S) / 3600,
        "ledger:<day>": 8 * 24,  # a requester's fields live with the day's books
    }


def worker_rss(sim: SimulatorProcess, threads: int, n: int, batches: int) -> list[int]:
    """One worker's VmRSS (kB) after each of `batches` batches of n tickets."""
    with bench_namespace(**_settings_env(sim)) as settings:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **{f"PACELINE_{k.upper()}": str(v) for k, v in _settings_env(sim).items()},
            "PACELINE_REDIS_URL": REDIS_URL,
            "PACELINE_NAMESPACE": settings.namespace,
            "PACELINE_LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "shared.cli.main", "worker", "--threads", str(threads)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        store = OutcomeStore(r, Keys(settings.namespace))
        try:
            rss = []
            for batch in range(batches):
                _submit(settings, n, batch * n, None)
                _wait_final(store)
                rss.append(_vm_rss_kb(proc.pid))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            r.close()
    return rss


def _vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def run(quick: bool = False) -> list[dict[str, Any]]:
    logging.getLogger("dramatiq").setLevel(logging.ERROR)
    n = 100 if quick else 400
    sim = SimulatorProcess("--seed", "7")
    try:
        per, settings = redis_per_ticket(sim, n)
        one = worker_rss(sim, 1, BATCH, 2)
        sixteen = worker_rss(sim, 16, BATCH, 4 if quick else 24)
    finally:
        sim.stop()
    rows: list[dict[str, Any]] = []
    keep_h = _retention_h(settings)
    kept = {k: v for k, v in per.items() if k in keep_h}
    for name, b in sorted(per.items(), key=lambda kv: -kv[1]):
        where = f"kept {keep_h[name]:.0f} h" if name in keep_h else "not kept per ticket"
        rows.append(row(ISSUE, f"Redis bytes per ticket: {name} ({where})", b, "B",
                        higher_is_better=False, command=COMMAND))  # fmt: skip
    total = sum(kept.values())
    rows.append(row(ISSUE, "Redis bytes per ticket kept, all families", total, "B",
                    higher_is_better=False, command=COMMAND))  # fmt: skip
    for rate in RATES_PER_H:
        steady = sum(b * rate * keep_h[k] for k, b in kept.items())
        rows.append(row(ISSUE, f"Redis steady state at {rate:,} tickets/h (today's retention)",
                        steady / 1e6, "MB", higher_is_better=False, command=COMMAND))  # fmt: skip
    per_thread = (sixteen[1] - one[1]) / 15
    rows.append(row(ISSUE, f"worker RSS, 1 thread, after {2 * BATCH} tickets", one[1] / 1024, "MiB",
                    command=COMMAND, higher_is_better=False))  # fmt: skip
    rows.append(row(ISSUE, f"worker RSS, 16 threads, after {2 * BATCH} tickets",
                    sixteen[1] / 1024, "MiB", command=COMMAND,
                    higher_is_better=False))  # fmt: skip
    rows.append(row(ISSUE, "worker RSS per thread ((16 - 1 thread) / 15)", per_thread / 1024,
                    "MiB", command=COMMAND, higher_is_better=False))  # fmt: skip
    # Growth once warm: over the second half of the tickets, per 1,000 tickets.
    half = len(sixteen) // 2
    grew = (sixteen[-1] - sixteen[half - 1]) / ((len(sixteen) - half) * BATCH) * 1000
    rows.append(row(ISSUE, f"worker RSS, 16 threads, after {len(sixteen) * BATCH} tickets",
                    sixteen[-1] / 1024, "MiB", command=COMMAND,
                    higher_is_better=False))  # fmt: skip
    rows.append(row(ISSUE, "worker RSS growth per 1,000 tickets once warm, 16 threads", grew,
                    "KiB", command=COMMAND, higher_is_better=False))  # fmt: skip
    return rows


if __name__ == "__main__":
    for r_ in run(quick="--quick" in sys.argv):
        print(r_)
