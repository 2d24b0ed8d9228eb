"""DLQ at scale: `paceline dlq list --json` and `dlq requeue --all --dry-run` over 100,000
entries, as subprocesses: seconds and peak RSS (os.wait4's ru_maxrss of that one child). The
baseline is the same command over an empty registry, so the memory ratio shows that the
registry is streamed, not loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import redis

from shared.keys import Keys
from shared.settings import Settings
from shared.stores.dead_letters import DeadLetter
from tests.bench.common import bench_namespace, row
from tests.conftest import REDIS_URL, ROOT
from tests.helpers import generic_ticket

COMMAND = ".venv/bin/python -c 'from tests.bench.bench_dlq import run; print(run())'"
ENTRIES = 100_000


def _fill(settings: Settings, n: int) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    keys = Keys(settings.namespace)
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        doc = generic_ticket(i, body="Where is my order? " * 20)
        entry = DeadLetter(
            ticket_id=doc["ticket_id"],
            event_id=doc["event_id"],
            tenant_id="acme",
            lane="live",
            reason="http_503" if i % 2 else "insufficient_quota",
            error="ProviderUnavailable: provider error 503",
            failed_at_ms=1_764_000_000_000 + i * 10,
            ticket=doc,
        )
        pipe.hset(keys.dlq_entries, entry.entry_id, entry.model_dump_json())
        pipe.zadd(keys.dlq_index, {entry.entry_id: entry.failed_at_ms})
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    r.close()


def _measure(settings: Settings, *args: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one `paceline dlq ...` subprocess."""
    env = {**os.environ, "PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": settings.namespace}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", "dlq", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"dlq {args} exited {proc.returncode}")
    if proc.stderr:
        proc.stderr.close()
    return elapsed, usage.ru_maxrss / 1024  # Linux: kilobytes


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 10_000 if quick else ENTRIES
    rows: list[dict[str, Any]] = []
    cases = [
        ("list", ("list", "--json")),
        ("requeue --dry-run", ("requeue", "--all", "--dry-run", "--json")),
    ]
    with bench_namespace() as empty, bench_namespace() as full:
        _fill(full, n)
        for name, args in cases:
            _, base_mb = _measure(empty, *args)
            secs, peak_mb = _measure(full, *args)
            rows.append(
                row(
                    6,
                    f"dlq {name} over {n:,} entries",
                    secs,
                    "s",
                    target="<= 60 s",
                    passed=secs <= 60,
                    command=COMMAND,
                    higher_is_better=False,
                )
            )
            rows.append(
                row(
                    6,
                    f"dlq {name} peak RSS over {n:,} entries (base: empty)",
                    peak_mb,
                    "MB",
                    baseline=base_mb,
                    target="<= base + 100 MB",
                    passed=peak_mb <= base_mb + 100,
                    command=COMMAND,
                    higher_is_better=False,
                )
            )
    return rows


if __name__ == "__main__":
    for r_ in run():
        print(r_)
