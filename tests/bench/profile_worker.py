"""`make profile`: py-spy on `paceline worker` under the overhead benchmark's load.

Starts a simulator (0 ms) and `paceline worker --processes 2 --threads 16`, attaches py-spy to
both worker processes (one writes the flame graph SVG, the other collapsed stacks for the
breakdown), enqueues a batch with `paceline enqueue` and stops when every ticket is final.
Sampling is `--gil` (only the thread holding the GIL: Python's CPU, not threads waiting on
the network) and `--nonblocking` (the worker is not paused to be read).

Prints where the worker's CPU per ticket goes: each sample is charged to the innermost frame
that belongs to a named part (generic libraries such as json, pydantic or the redis client
are charged to whichever part called them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.overhead_procs import Side, ticket_doc  # noqa: E402
from tests.conftest import SimulatorProcess  # noqa: E402

# (part, path fragments): the first part whose fragment is in a frame's file wins.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("admission", ("workers/admission/",)),
    # The round trips around each model call: the draw with the circuit's check, the settle
    # with the circuit's record and the provider's rate-limit headers.
    ("draws and settles (+ circuit, limits)", (
        "shared/ledger/", "workers/agent/budget.py", "workers/call_records.py",
        "workers/agent/call_hooks.py", "shared/stores/circuit.py",
        "shared/stores/provider_limits.py", "workers/agent/circuit_hook.py")),
    ("guard (reply check)", ("workers/agent/guard.py", "shared/redact.py")),
    ("outcome store (+ forecast counts)", ("shared/stores/outcomes.py", "shared/history/emit.py",
                                           "shared/stores/demand.py")),
    ("metrics/logging", ("workers/observe.py", "shared/metrics", "prometheus_client/",
                         "shared/logs.py", "logging/", "workers/ticket_text.py")),
    ("conversation (thread, turn, resolutions)", (
        "shared/stores/threads.py", "workers/conversation_turn.py", "shared/conversation/")),
    ("tools", ("workers/agent/tools/", "shared/knowledge/", "shared/connectors/")),
    ("openai SDK + httpx", ("openai/", "httpx", "httpcore", "h11/", "anyio/", "ssl.py",
                            "socket.py")),
    ("agent loop", ("workers/agent/", "shared/estimate.py", "shared/pricing.py")),
    ("handle (run, reply, close)", ("workers/handle.py", "workers/replies/", "shared/stores/")),
    ("dramatiq (+ queue wake-ups)", ("dramatiq/", "shared/queue_wake.py")),
)  # fmt: skip
GENERIC = (
    "json/",
    "pydantic",
    "redis/",
    "shared/redis_client.py",
    "typing",
    "threading.py",
    "enum.py",
    "uuid.py",
)


# Parts that own everything they call: a connector's HTTP request is the tool's, not the SDK's
# (both use httpx); the log handler's redaction is logging's, not the reply check's (both use
# shared/redact.py).
OWNERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tools", ("shared/connectors/",)),
    ("metrics/logging", ("shared/logs.py",)),
)


def part_of(stack: str) -> str:
    """The part a collapsed stack (root;...;leaf) is charged to."""
    for part, fragments in OWNERS:
        if any(f in stack for f in fragments):
            return part
    for frame in reversed(stack.split(";")):
        where = frame[frame.rfind("(") + 1 :]
        for part, fragments in PARTS:
            if any(f in where for f in fragments):
                return part
        if any(g in where for g in GENERIC):
            continue
    return "other"


def breakdown(raw: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            counts[part_of(stack)] += int(n)
    return counts


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if ppid == pid and b"multiprocessing" in cmd and b"resource_tracker" not in cmd:
                out.append(int(entry))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1200)
    parser.add_argument("--svg", default=str(ROOT / "profile-worker.svg"))
    parser.add_argument("--rate", type=int, default=1000)
    # The naive agent of the overhead benchmark, profiled the same way: which part of its CPU
    # is the SDK's and dramatiq's, the parts both sides pay.
    parser.add_argument("--side", choices=("paceline", "naive"), default="paceline")
    args = parser.parse_args()
    pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if pyspy is None:
        print("paceline: py-spy is not installed (pip install -e '.[profile]')", file=sys.stderr)
        return 69
    sim = SimulatorProcess("--seed", "7")
    side = Side(args.side, sim, 2, 16)
    spies: list[subprocess.Popen[bytes]] = []
    raw = Path(args.svg).with_suffix(".txt")
    try:
        side.run([ticket_doc(i, "warm") for i in range(64)], timeout_s=180)
        workers = _children(side.proc.pid)
        if len(workers) < 2:
            raise RuntimeError(f"expected 2 worker processes, found {workers}")
        common = ["record", "--gil", "--nonblocking", "-r", str(args.rate)]
        for pid, fmt, out in ((workers[0], "flamegraph", args.svg), (workers[1], "raw", raw)):
            cmd = [pyspy, *common, "-f", fmt, "-o", str(out), "--pid", str(pid)]
            spies.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        time.sleep(1)  # py-spy attached
        result = side.run([ticket_doc(i, "profile") for i in range(args.tickets)])
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        for spy in spies:
            _, err = spy.communicate(timeout=60)
            if spy.returncode not in (0, -signal.SIGINT, 130):
                print(err.decode(errors="replace")[-1000:], file=sys.stderr)
    finally:
        for spy in spies:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
        side.stop()
        sim.stop()
    counts = breakdown(raw)
    total = sum(counts.values()) or 1
    per_ticket = result.cpu_ms_per_ticket
    print(f"{args.tickets} tickets, worker CPU {per_ticket:.2f} ms/ticket, "
          f"{result.calls_per_s:.0f} model calls/s (under py-spy)")  # fmt: skip
    print(f"{'part':32} {'share':>7} {'ms/ticket':>10}")
    for part, n in counts.most_common():
        print(f"{part:32} {n / total:7.1%} {per_ticket * n / total:10.2f}")
    print(f"flame graph: {args.svg}; collapsed stacks: {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
