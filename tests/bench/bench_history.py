"""History (issue 24): archive throughput into the local PostgreSQL, and the month report over
1,000,000 settled calls. Each run uses a database of its own, dropped after.

- Archive: settled-call entries XADDed to the stream, then drained by the archiver (parse,
  one transaction a batch of `archive_batch_rows`, ack and delete); the baseline is the same
  rows inserted by the same engine with a plain executemany INSERT (no Redis, no natural-key
  upsert), so the ratio is what archiving costs over writing the rows at all.
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
    finally:
        drop_pg_database(name)
    assert PG_SERVER
    return out
