"""Tenant profiles on the admission path: no Redis round trip added, CPU per ticket.

Round trips are counted by a connection class that counts each write to Redis (every
command, or every packed batch of them, is one write and one wait): no MONITOR, nothing
sampled. The same tickets are admitted by the real middleware with no tenants file, and with
one whose tenants have their own model, ladder, caps, SLO and rollout.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis

from shared.messages import ticket_message
from shared.models import Lane, Ticket
from tests.bench.common import bench_namespace, row
from tests.conftest import REDIS_URL
from tests.helpers import generic_ticket
from workers.admission.middleware import AdmissionMiddleware
from workers.admission.releases import PendingReleases
from workers.worker_context import WorkerContext

COMMAND = "python tests/bench/run_all.py --only profiles"
BATCH = 8
TENANTS = """
[tenants.acme]
display_name = "Acme Outdoor"
instructions = "Sign off as The Acme team."
model = "gpt-4o-mini"
ladder = ["gpt-4.1-nano"]
tenant_daily_cap_usd = 500
requester_daily_cap_usd = 100
live_max_wait_s = 600
never_tags = ["vip"]

[tenants.globex]
display_name = "Globex"
model = "gpt-4.1-mini"
requester_daily_cap_usd = 50
rollout_pct = 100
"""


class CountingConnection(redis.Connection):
    """A Redis connection that counts its writes (round trips)."""

    writes = 0
    _lock = threading.Lock()

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        with CountingConnection._lock:
            CountingConnection.writes += 1
        super().send_packed_command(command, check_health)


def _client() -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        REDIS_URL, decode_responses=True, max_connections=32, connection_class=CountingConnection
    )
    return redis.Redis(connection_pool=pool)


def _messages(n: int, start: int) -> list[Any]:
    tenants = ("acme", "globex", "initech")  # initech: not in the file
    out = []
    for i in range(start, start + n):
        doc = generic_ticket(i, tenant_id=tenants[i % 3], requester={"id": f"u-{i}"})
        out.append(ticket_message(Ticket.model_validate(doc), Lane.LIVE))
    return out


def _admit(tenants_file: Path | None, batches: int) -> tuple[float, float]:
    """Round trips per batch and CPU µs per ticket for `batches` batches of BATCH tickets."""
    env: dict[str, Any] = {
        "daily_ceiling_usd": "100000", "tenant_daily_cap_usd": "100000",
        "user_daily_cap_usd": "100000", "pacing": "off",
    }  # fmt: skip
    if tenants_file is not None:
        env["tenants_file"] = tenants_file
    with bench_namespace(**env) as settings:
        client = _client()
        ctx = WorkerContext.build(settings, client=client, threads=2)
        # No release timer: what was admitted is closed inside the next batch's admit script
        # (as on a busy worker), so no background write lands in the count.
        ctx.releases = PendingReleases(ctx.ledger, hold_s=3600)
        mw = AdmissionMiddleware(ctx)
        try:
            mw.prepare(_messages(BATCH, 0))  # warm: scripts loaded, connections open
            trips = 0
            cpu_s = 0.0
            for b in range(batches):
                messages = _messages(BATCH, (b + 1) * BATCH)
                before = CountingConnection.writes
                started = time.process_time()
                decided = mw.prepare(messages)
                cpu_s += time.process_time() - started
                trips += CountingConnection.writes - before
                assert all(p.decision is not None for p in decided)
                # Closed in the next batch's round trip
                for p in decided:
                    if p.decision and p.decision.reservation_id:
                        ctx.releases.add(p.decision.reservation_id)
        finally:
            ctx.close()
    return trips / batches, cpu_s / (batches * BATCH) * 1e6


def run(quick: bool = False) -> list[dict[str, Any]]:
    logging.getLogger("dramatiq").setLevel(logging.ERROR)
    batches = 50 if quick else 300
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tenants.toml"
        path.write_text(TENANTS)
        base_trips, base_us = _admit(None, batches)
        trips, us = _admit(path, batches)
    return [
        row(
            21,
            f"Redis round trips per admitted batch of {BATCH}, tenant profiles vs none",
            trips,
            "round trips",
            baseline=base_trips,
            target="no more than without profiles",
            passed=trips <= base_trips,
            command=COMMAND,
            higher_is_better=False,
        ),
        row(
            21,
            "admission CPU per ticket, tenant profiles vs none",
            us,
            "µs",
            baseline=base_us,
            target="report ratio",
            command=COMMAND,
            higher_is_better=False,
        ),
    ]
