"""`make chaos` / `make chaos-smoke`: each fault a scenario against a real stack on this machine.

    python tests/chaos/run.py [--smoke] [--only NAME ...] [--json-out chaos-results.json]

Prints per scenario the tickets in and their end states (answered, escalated, parked,
rejected, dead-lettered, lost), a final table, writes `chaos-results.json`, and exits 1 when
any ticket is lost or any expectation fails. Each scenario has its own namespace (and, for the
Redis restart, its own redis-server), a deadline, and cleans up only what it started.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.chaos.scenarios_conversation import echo_loop
from tests.chaos.scenarios_history import archiver_and_database
from tests.chaos.scenarios_process import redis_restart, scheduler_failover, sigkill_workers
from tests.chaos.scenarios_redrive import redrive_interrupts
from tests.chaos.scenarios_traffic import (
    duplicate_storm,
    poison,
    poison_call,
    provider_outage,
    rate_limit_storm,
)
from tests.chaos.tally import Result

Scenario = Callable[[Result, str, bool, float], None]
# name -> (scenario, in the smoke subset, drain deadline in seconds)
SCENARIOS: dict[str, tuple[Scenario, bool, float]] = {
    "sigkill": (sigkill_workers, True, 90),
    "outage": (provider_outage, False, 90),
    "ratelimit": (rate_limit_storm, False, 90),
    "redis": (redis_restart, False, 90),
    "duplicates": (duplicate_storm, True, 60),
    "scheduler": (scheduler_failover, False, 60),
    "poison": (poison, True, 60),
    "poisoncall": (poison_call, False, 30),
    "history": (archiver_and_database, False, 90),
    "redrive": (redrive_interrupts, False, 90),
    "echo": (echo_loop, False, 60),
}
HEADER = (
    "scenario",
    "in",
    "answered",
    "escalated",
    "parked",
    "rejected",
    "dead",
    "lost",
    "secs",
    "ok",
)


def run_one(name: str, redis_url: str, smoke: bool) -> Result:
    scenario, _, deadline_s = SCENARIOS[name]
    res = Result(name)
    started = time.monotonic()
    try:
        scenario(res, redis_url, smoke, deadline_s)
    except Exception as exc:  # a scenario that blows up fails, the suite goes on
        res.failures.append(f"crashed: {type(exc).__name__}: {exc}"[:400])
        traceback.print_exc()
    res.seconds = round(time.monotonic() - started, 1)
    return res


def row(res: Result) -> tuple[str, ...]:
    return (
        res.name,
        str(res.tickets_in),
        str(res.answered),
        str(res.escalated),
        str(res.parked),
        str(res.rejected),
        str(res.dead_lettered),
        str(res.lost),
        f"{res.seconds:.0f}",
        "yes" if res.ok else "NO",
    )


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


def report(res: Result) -> None:
    print(table([HEADER, row(res)]), flush=True)
    for note in res.notes:
        print(f"    - {note}", flush=True)
    for failure in res.failures:
        print(f"    FAILED: {failure}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="the short subset CI runs")
    ap.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="one scenario")
    ap.add_argument("--json-out", default="chaos-results.json")
    args = ap.parse_args(argv)
    redis_url = os.environ.get("PACELINE_REDIS_URL", "redis://127.0.0.1:6379/0")
    names = args.only or [n for n, (_, smoke, _) in SCENARIOS.items() if smoke or not args.smoke]
    started = time.monotonic()
    results = []
    for name in names:
        print(f"== {name}", flush=True)
        results.append(run_one(name, redis_url, args.smoke))
        report(results[-1])
    print("\n" + table([HEADER] + [row(r) for r in results]))
    total_s = round(time.monotonic() - started, 1)
    ok = all(r.ok for r in results)
    print(f"{'all scenarios passed' if ok else 'CHAOS FAILED'} in {total_s:.0f} s")
    doc = {
        "smoke": args.smoke,
        "seconds": total_s,
        "ok": ok,
        "scenarios": [r.to_json() for r in results],
    }
    Path(args.json_out).write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
