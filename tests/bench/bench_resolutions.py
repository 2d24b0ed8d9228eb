"""What resolution tracking costs (issue 22): the hook per answered event against one plain
Redis round trip, the scheduler closing windows in bulk, and Redis memory per ticket.

What runs: the real hooks (shared/conversation/hooks.py: the Lua state machine, one round trip
each) against the real Redis, in this process; the baseline is an HSET of the same size to the
same server in the same loop, so the ratio is the script's Redis-side work, not the machine's
speed. Window closing: `Resolutions.close_due` in batches of 500, as a scheduler tick does.
"""

from __future__ import annotations

import statistics
from typing import Any

import redis

from shared.conversation import hooks
from shared.conversation.resolutions import CLOSE_BATCH, Resolutions
from shared.keys import Keys, ticket_key
from tests.bench.common import Timer, bench_namespace, row
from tests.conftest import REDIS_URL

ISSUE = 22
COMMAND = ".venv/bin/python tests/bench/run_all.py --only resolutions"
T0_MS = 1_794_312_000_000
DAY_MS = 24 * 3600 * 1000


def _per_event(r: redis.Redis, keys: Keys, n: int) -> tuple[float, float]:
    """(hook events/s, plain HSET round trips/s): the median of five alternating rounds."""
    hooked: list[float] = []
    plain: list[float] = []
    for rnd in range(5):
        with Timer() as t:
            for i in range(n):
                hooks.on_agent_answered(r, keys, "acme", "generic", f"B{rnd}-{i}", T0_MS, 0)
        hooked.append(n / t.seconds)
        with Timer() as t:
            for i in range(n):
                r.hset(keys.resolution(f"plain-{rnd}-{i}"), mapping={"state": "awaiting"})
        plain.append(n / t.seconds)
    return statistics.median(hooked), statistics.median(plain)


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 300 if quick else 2_000
    rows: list[dict[str, Any]] = []
    with bench_namespace() as settings:
        r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        keys = Keys(settings.namespace)
        events_s, plain_s = _per_event(r, keys, n)
        rows.append(row(ISSUE, "answered event: the resolution hook", events_s, "events/s",
                        baseline=plain_s, target="one round trip: ratio near 1",
                        command=COMMAND))  # fmt: skip
        sample = ticket_key("acme", "generic", "B0-0")
        size = int(r.memory_usage(keys.resolution(sample)) or 0)  # type: ignore[no-untyped-call]
        rows.append(row(ISSUE, "Redis per ticket: its resolution state", size, "bytes",
                        higher_is_better=False, command=COMMAND))  # fmt: skip
        # Every answer above is due a day later: close them as ticks would.
        res = Resolutions(r, keys)
        due = res.awaiting()
        ticks = 0
        with Timer() as t:
            while True:
                _, seen = res.close_due(T0_MS + DAY_MS, DAY_MS, CLOSE_BATCH)
                ticks += 1
                if seen < CLOSE_BATCH:
                    break
        rows.append(row(ISSUE, f"window close: {due:,} due, in batches of {CLOSE_BATCH}",
                        due / t.seconds, "tickets/s", command=COMMAND))  # fmt: skip
        rows.append(row(ISSUE, "window close: one batch", t.seconds / ticks * 1000, "ms",
                        higher_is_better=False, command=COMMAND))  # fmt: skip
        r.close()
    return rows


if __name__ == "__main__":
    for r_ in run():
        print(r_)
