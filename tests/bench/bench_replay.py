"""Replay throughput: tickets/s through the whole replay path against plain `broker.enqueue`.

The replay path per ticket: read and validate a JSONL line, filter, dedupe claim (SET NX),
pending outcome (Lua), dramatiq enqueue (Lua), checkpoint every 500 records. The baseline
enqueues the same messages with dramatiq alone, in the same run, against the same Redis, so
the ratio is what dedupe, the outcome record and the reading cost. Also: seconds for a
100,000-ticket `--dry-run` (read, validate, price), which is all in-process.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from producers.enqueue import Intake
from producers.replay.estimate import ReplayEstimator
from producers.replay.replayer import Replayer, ReplayFilter, ReplaySummary
from producers.replay.source import open_records
from shared.broker import build_broker
from shared.clock import SystemClock
from shared.keys import Keys
from shared.messages import ticket_message
from shared.models import Lane, Ticket
from shared.pricing import PriceTable
from shared.settings import Settings, load_settings
from tests.conftest import REDIS_URL, delete_namespace
from tests.producers.replay.helpers import ticket_doc, write_jsonl

COMMAND = ".venv/bin/python -c 'from tests.bench.bench_replay import run; print(run())'"
DRY_RUN_TICKETS = 100_000


def _settings(namespace: str) -> Settings:
    return load_settings({"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace})


def _replay_rate(path: Path, n: int, r: redis.Redis) -> float:
    ns = f"plbench-{uuid.uuid4().hex[:8]}"
    settings, keys = _settings(ns), Keys(ns)
    broker = build_broker(settings)
    try:
        intake = Intake(
            broker=broker, client=r, keys=keys, clock=SystemClock(),
            dedupe_window_s=settings.dedupe_window_s,
        )  # fmt: skip
        replayer = Replayer(client=r, keys=keys, clock=SystemClock(), intake=intake)
        summary = ReplaySummary(name="bench", file=str(path), dry_run=False)
        started = time.perf_counter()
        replayer.run(
            open_records(path, "jsonl", mapping=None, default_tenant="default"),
            summary, name="bench", filt=ReplayFilter(),
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        assert summary.enqueued == n, summary
        return n / elapsed
    finally:
        broker.close()
        delete_namespace(r, ns)


def _plain_rate(n: int, r: redis.Redis) -> float:
    ns = f"plbench-{uuid.uuid4().hex[:8]}"
    broker = build_broker(_settings(ns))
    messages = [ticket_message(Ticket.model_validate(ticket_doc(i)), Lane.REPLAY) for i in range(n)]
    try:
        started = time.perf_counter()
        for message in messages:
            broker.enqueue(message)
        return n / (time.perf_counter() - started)
    finally:
        broker.close()
        delete_namespace(r, ns)


def _dry_run_s(path: Path, r: redis.Redis) -> float:
    settings = _settings(f"plbench-{uuid.uuid4().hex[:8]}")
    replayer = Replayer(client=r, keys=Keys(settings.namespace), clock=SystemClock(), intake=None)
    estimator = ReplayEstimator(settings, PriceTable.load())
    summary = ReplaySummary(name="dry", file=str(path), dry_run=True)
    started = time.perf_counter()
    replayer.run(
        open_records(path, "jsonl", mapping=None, default_tenant="default"),
        summary, name="dry", filt=ReplayFilter(), estimator=estimator,
    )  # fmt: skip
    assert estimator.total.tickets == DRY_RUN_TICKETS
    return time.perf_counter() - started


def _row(
    name: str, figure: float, unit: str, baseline: float | None, target: str, ok: bool
) -> dict[str, Any]:
    return {
        "issue": 7, "name": name, "figure": round(figure, 2), "unit": unit,
        "baseline": round(baseline, 2) if baseline else None,
        "ratio": round(figure / baseline, 3) if baseline else None,
        "target": target, "pass": ok, "command": COMMAND,
    }  # fmt: skip


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 2_000 if quick else 20_000
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    with tempfile.TemporaryDirectory() as tmp:
        small = write_jsonl(Path(tmp) / "replay.jsonl", n)
        big = write_jsonl(Path(tmp) / "dry.jsonl", DRY_RUN_TICKETS)
        plain = _plain_rate(n, r)
        replay = _replay_rate(small, n, r)
        dry_s = _dry_run_s(big, r)
    r.close()
    rate_ok = replay >= 1_000 and replay >= plain / 4
    return [
        _row(f"replay enqueue rate ({n:,} tickets)", replay, "tickets/s", plain,
             ">= 1,000 tickets/s and >= 25% of plain enqueue", rate_ok),
        _row("replay --dry-run of 100,000 tickets", dry_s, "s", None, "<= 10 s", dry_s <= 10),
    ]  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
