"""History (issue 24): archive throughput into the local PostgreSQL, and the month report over
1,000,000 settled calls. Each run uses a database of its own, dropped after.

- Archive: settled-call entries XADDed to the stream, then drained by the archiver (parse,
  one transaction a batch of `archive_batch_rows`, ack and delete); the baseline is the same
  rows inserted by the same engine with a plain executemany INSERT (no Redis, no natural-key
  upsert), so the ratio is what archiving costs over writing the rows at all.
- Worker with the archiver on vs off: tickets/s of a real worker (8 threads, simulator at
  0 ms) over N enqueued tickets, with a `paceline archive` process writing that namespace's
  stream into PostgreSQL beside it ("on") or none ("off"; the stream's entries are written
  either way: they are part of the state changes). Paired rounds in ABBA order, the median
  pair's ratio, as the observability benchmark does.
- Month report: 1,000,000 calls over 30 days, 50 tenants, 4 models, 2 lanes loaded server-side
  (generate_series), vacuumed and analysed as autovacuum would leave them; each grouping timed,
  the median of three runs, the slowest grouping reported.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import date
from typing import Any

import redis
from sqlalchemy import create_engine, insert, text

from shared.clock import SystemClock
from shared.history.database import make_engine
from shared.history.events import parse
from shared.history.migrate import upgrade
from shared.history.privacy import TranscriptPolicy
from shared.history.reports import Period, spend, tickets
from shared.history.schema import model_calls
from shared.history.writer import HistoryWriter
from tests.bench.common import bench_namespace, row
from tests.conftest import REDIS_URL
from tests.shared.history.conftest import PG_SERVER, create_pg_database, drop_pg_database
from tests.shared.history.facts import call

MONTH_ROWS = 1_000_000
THREADS = 8


def _final(store: Any) -> int:
    counts = store.summary()
    return sum(counts[s] for s in ("answered", "escalated", "rejected", "dead_lettered"))


def _proc_cpu_s(pid: int) -> float:
    import os

    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_round(sim: Any, url: str, n: int, on: bool) -> tuple[float, int, float]:
    """(tickets/s, facts the archiver had left when the last ticket ended, the archiver's CPU
    ms per ticket over the round; -1 and 0 when off)."""
    import os
    import subprocess
    import sys

    from shared.keys import Keys
    from shared.stores.outcomes import OutcomeStore
    from tests.bench.bench_observability import _enqueue
    from tests.conftest import ROOT
    from workers.runtime import RunningWorker

    env: dict[str, Any] = {"llm_base_url": sim.base_url, "llm_api_key": "sk-bench"}
    with bench_namespace(database_url=url, **env) as settings:
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        keys = Keys(settings.namespace)
        _enqueue(settings, client, n)
        archiver = None
        if on:
            proc_env = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
            proc_env.update({"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_DATABASE_URL": url,
                             "PACELINE_NAMESPACE": settings.namespace,
                             "PACELINE_METRICS_PORT": "0"})  # fmt: skip
            archiver = subprocess.Popen(
                [sys.executable, "-m", "shared.cli.main", "archive"], cwd=ROOT, env=proc_env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 30
            while not _has_group(client, keys) and time.monotonic() < deadline:
                time.sleep(0.05)
            # Let it finish starting (imports, the schema check): in a deployment it has been
            # running for days, so its start-up is no part of what a worker pays.
            time.sleep(1.5)
        store = OutcomeStore(client, keys)
        worker = RunningWorker(settings, threads=THREADS)
        cpu0 = _proc_cpu_s(archiver.pid) if archiver is not None else 0.0
        cpu_ms = 0.0
        start = time.perf_counter()
        worker.start()
        try:
            while _final(store) < n:
                time.sleep(0.02)
            seconds = time.perf_counter() - start
            left = int(client.xlen(keys.history_stream)) if on else -1
            if archiver is not None:
                cpu_ms = (_proc_cpu_s(archiver.pid) - cpu0) * 1000 / n
        finally:
            worker.stop()
            if archiver is not None:
                archiver.terminate()
                archiver.wait(timeout=30)
            client.close()
    return n / seconds, left, cpu_ms


def _has_group(client: redis.Redis, keys: Any) -> bool:
    try:
        return bool(client.xinfo_groups(keys.history_stream))
    except redis.ResponseError:
        return False


def _archiver_on_off(url: str, quick: bool) -> list[dict[str, Any]]:
    from tests.conftest import SimulatorProcess

    n, pairs = (60, 2) if quick else (400, 7)
    sim = SimulatorProcess("--seed", "7")
    off: list[tuple[float, int, float]] = []
    on: list[tuple[float, int, float]] = []
    try:
        _worker_round(sim, url, 20, False)  # warm-up
        for i in range(pairs):
            for mode in (False, True) if i % 2 == 0 else (True, False):
                (on if mode else off).append(_worker_round(sim, url, n, mode))
    finally:
        sim.stop()
    ratio = statistics.median(b[0] / a[0] for a, b in zip(off, on, strict=True))
    cmd = "python tests/bench/run_all.py --only history"
    return [
        row(24, f"worker tickets/s with the archiver on ({n} tickets, median round)",
            statistics.median(r[0] for r in on), "tickets/s",
            baseline=statistics.median(r[0] for r in off), command=cmd),
        row(24, "archiver on/off worker tickets/s, median of ABBA pairs", ratio, "ratio",
            target=">= 0.97", passed=ratio >= 0.97, command=cmd),
        row(24, "archiver CPU per ticket while the worker runs (median round)",
            statistics.median(r[2] for r in on), "ms", target="reference", command=cmd),
        row(24, "facts left for the archiver when the last ticket ended (max over rounds)",
            max(r[1] for r in on), "entries", target="reference", command=cmd),
    ]  # fmt: skip


def _archive(settings: Any, url: str, n: int) -> tuple[float, float]:
    from shared.history.archiver import Archiver

    engine = make_engine(settings, url=url)
    upgrade(engine)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    clock = SystemClock()
    writer = HistoryWriter(engine, TranscriptPolicy.from_settings(settings), clock)
    arch = Archiver(settings, client, engine, writer, clock, consumer="bench")
    arch.ensure_group()
    facts = [call(i, reservation_id=f"r{i // 3}", ticket_id=f"T-{i // 3}") for i in range(n)]
    for start in range(0, n, 5_000):
        pipe = client.pipeline(transaction=False)
        for fields in facts[start : start + 5_000]:
            pipe.xadd(arch.keys.history_stream, fields)  # type: ignore[arg-type]
        pipe.execute()
    started = time.perf_counter()
    done = 0
    while True:
        res = arch.step(block_ms=None)
        done += res.written
        if res.written + res.rejected == 0:
            break
    archived_s = time.perf_counter() - started
    assert done == n, (done, n)
    # Baseline: the same rows, a plain INSERT executemany in batches of the same size.
    rows = [{**parse(f).row, "reservation_id": "b" + f["rid"]} for f in facts]
    batch = settings.archive_batch_rows
    started = time.perf_counter()
    for start in range(0, n, batch):
        with engine.begin() as conn:
            conn.execute(insert(model_calls), rows[start : start + batch])
    plain_s = time.perf_counter() - started
    client.close()
    engine.dispose()
    return n / archived_s, n / plain_s


def _month(url: str, rows: int) -> dict[str, float]:
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO model_calls (reservation_id, call_id, ticket_id, tenant_id,
                  requester, model, lane, prompt_tokens, cached_tokens, completion_tokens,
                  cost_micros, expired_charge, day, settled_at_ms)
                SELECT 'r' || (i / 2), 'c' || (i % 2), 'T-' || (i / 2), 'tenant-' || (i % 50),
                  'u-' || (i % 5000), (ARRAY['gpt-4o', 'gpt-4o-mini', 'gpt-4.1',
                  'gpt-4.1-nano'])[1 + i % 4], CASE WHEN i % 10 = 0 THEN 'replay' ELSE 'live' END,
                  1000 + i % 3000, i % 500, 100 + i % 700, 50 + i % 20000, false,
                  DATE '2026-11-01' + (i % 30), 1793491200000 + i
                FROM generate_series(0, :n - 1) AS i
                """
            ),
            {"n": rows},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE model_calls"))
    month = Period(date(2026, 11, 1), date(2026, 11, 30))
    timings: dict[str, float] = {}
    for by in ("tenant", "day", "model", "lane"):
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            got = spend(engine, month, by)  # type: ignore[arg-type]
            runs.append(time.perf_counter() - started)
        assert sum(r["calls"] for r in got) == rows
        timings[by] = statistics.median(runs)
    started = time.perf_counter()
    spend(engine, month, "model", tenant="tenant-7")
    timings["model, one tenant"] = time.perf_counter() - started
    started = time.perf_counter()
    tickets(engine, month, min_cost_micros=30_000)
    timings["tickets costing at least $0.03"] = time.perf_counter() - started
    engine.dispose()
    return timings


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 10_000 if quick else 50_000
    month_rows = 100_000 if quick else MONTH_ROWS
    name = f"plbench_history_{uuid.uuid4().hex[:8]}"
    url = create_pg_database(name)
    out: list[dict[str, Any]] = []
    try:
        with bench_namespace(database_url=url) as settings:
            rate, plain = _archive(settings, url, n)
        out.append(
            row(
                24,
                f"archive throughput into local PostgreSQL ({n:,} settled calls)",
                rate,
                "rows/s",
                baseline=plain,
                target=">= 5,000 rows/s",
                passed=rate >= 5_000,
                command="python tests/bench/run_all.py --only history",
            )
        )
        drop_pg_database(name)
        url = create_pg_database(name)
        timings = _month(url, month_rows)
        slowest = max(v for k, v in timings.items() if k in ("tenant", "day", "model", "lane"))
        out.append(
            row(
                24,
                f"month report over {month_rows:,} settled calls (slowest grouping)",
                slowest,
                "s",
                target="<= 2 s",
                passed=slowest <= 2.0,
                command="python tests/bench/run_all.py --only history",
            )
        )
        for by, seconds in timings.items():
            out.append(row(24, f"month report by {by}", seconds, "s", target="reference"))
        drop_pg_database(name)
        url = create_pg_database(name)
        out += _archiver_on_off(url, quick)
    finally:
        drop_pg_database(name)
    assert PG_SERVER
    return out
