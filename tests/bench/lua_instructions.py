"""CPU instructions the ledger's scripts cost inside Redis, counted by valgrind (callgrind).

Wall-clock figures on a shared 2-core VM move by 20-40% from one run to the next; an
instruction count does not, so this is how a change to the Lua is judged before `make bench`
confirms it. A private redis-server runs under callgrind on a free port (nothing shared is
touched); admissions, settles and releases run in batches of 50 with 32 requesters in the day
(the core benchmark's shape), and each phase's instructions are read from a callgrind dump.

A trivial script (`return 1`) is counted the same way, 100 to a round trip, as the core
benchmark's baseline: what a pair costs against what two trivial EVALSHAs cost is the Redis
side of benchmark 3a's ratio, without the noise.

Usage: python tests/bench/lua_instructions.py [--rev GIT_REV ...] [--batches N]
  --rev compares the scripts as they were at a revision (e.g. HEAD~3) with the working tree's;
  the revision's scripts must take the working tree's arguments (admit and settle take a
  batch since cef1e7b: older revisions cannot be compared this way).
Needs valgrind (Debian: `apt-get install valgrind`); not part of `make test` or `make bench`.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from shared.cli.stack import free_port, private_redis_argv  # noqa: E402
from shared.clock import SystemClock  # noqa: E402
from shared.keys import Keys  # noqa: E402
from shared.ledger import AdmissionRequest, Candidate, Decision, Ledger  # noqa: E402
from shared.redis_client import ThreadConnections, evalsha_batch  # noqa: E402
from tests.bench.bench_core import NO_LIMITS  # noqa: E402
from tests.bench.common import make_settings  # noqa: E402

SCRIPTS = ("admit", "draw", "settle", "release", "reap")
BATCH = 50
USERS = 32


class CallgrindRedis:
    def __init__(self, workdir: str) -> None:
        self.dir = workdir
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={workdir}/cg.out.%p",
                *private_redis_argv("redis-server", self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis(port=self.port, decode_responses=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server under valgrind did not start") from None
                time.sleep(0.2)

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            ["callgrind_control", *args, str(self.proc.pid)], check=True, capture_output=True
        )

    def count(self, work: Callable[[], object]) -> int:
        """Instructions Redis executed while `work()` ran."""
        self._ctl("-z")
        self._ctl("-i", "on")
        work()
        self._ctl("-i", "off")
        before = set(glob.glob(f"{self.dir}/cg.out.*"))
        self._ctl("-d")
        dump = max(set(glob.glob(f"{self.dir}/cg.out.*")) - before, key=os.path.getmtime)
        match = re.search(r"^totals: (\d+)", Path(dump).read_text(), re.M)
        assert match, f"no totals in {dump}"
        return int(match.group(1))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def script_source_at(rev: str, name: str) -> str:
    def show(f: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:shared/ledger/{f}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    return show("common.lua") + "\n" + show(f"{name}.lua")


def measure(server: CallgrindRedis, rev: str | None, batches: int) -> dict[str, float]:
    r = server.client
    ns = f"cg-{uuid.uuid4().hex[:8]}"
    ledger = Ledger(r, Keys(ns), make_settings(ns, **NO_LIMITS), SystemClock())
    if rev is not None:
        for name in SCRIPTS:
            setattr(ledger, f"_{name}", r.register_script(script_source_at(rev, name)))
    cand = [Candidate("gpt-4o-mini", 2000, 500)]

    def requests(tag: str, b: int) -> list[AdmissionRequest]:
        return [
            AdmissionRequest(
                f"{ns}:ticket:{tag}{b}-{j}",
                "acme",
                f"u{(b * BATCH + j) % USERS}",
                "live",
                cand,
                f"{tag}{b}-{j}",
                "e1",
            )
            for j in range(BATCH)
        ]

    # Warm up: scripts loaded, the day's books and every requester's fields exist.
    warm = ledger.admit_many(requests("w", 0))
    ledger.settle_many([(d.reservation_id or "", "c1", 400) for d in warm])
    ledger.release_many([d.reservation_id or "" for d in warm])
    reqs = [requests("b", b) for b in range(batches)]
    decisions: list[list[Decision]] = []
    n = batches * BATCH
    out = {
        "admit": server.count(lambda: decisions.extend(ledger.admit_many(q) for q in reqs)),
        "settle": server.count(
            lambda: [
                ledger.settle_many([(d.reservation_id, "c1", 400) for d in ds]) for ds in decisions
            ]
        ),
        "release": server.count(
            lambda: [ledger.release_many([d.reservation_id for d in ds]) for ds in decisions]
        ),
    }
    assert all(d.kind == "admit" for ds in decisions for d in ds)
    ledger.close()
    return {k: v / n for k, v in out.items()}


def trivial(server: CallgrindRedis, batches: int) -> float:
    """Instructions per `return 1` EVALSHA, 100 to a round trip (the core benchmark's way)."""
    r = server.client
    script = r.register_script("return 1")
    conns = ThreadConnections(r)
    calls = [((), ())] * 100
    evalsha_batch(r, script, calls, conns)
    n = server.count(lambda: [evalsha_batch(r, script, calls, conns) for _ in range(batches)])
    conns.close()
    return n / (batches * 100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", action="append", default=[], help="also measure a git revision")
    ap.add_argument("--batches", type=int, default=6)
    args = ap.parse_args()
    if not shutil.which("valgrind") or not shutil.which("redis-server"):
        sys.exit("needs valgrind and redis-server (apt-get install valgrind redis-server)")
    with tempfile.TemporaryDirectory() as workdir:
        server = CallgrindRedis(workdir)
        try:
            print(f"{'trivial':>14}: {trivial(server, args.batches) / 1000:6.1f}k per EVALSHA")
            for rev in [*args.rev, None]:
                m = measure(server, rev, args.batches)
                print(
                    f"{rev or 'working tree':>14}: admit {m['admit'] / 1000:6.1f}k  "
                    f"settle {m['settle'] / 1000:6.1f}k  release {m['release'] / 1000:6.1f}k  "
                    f"admit+settle {(m['admit'] + m['settle']) / 1000:6.1f}k instructions"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
