"""The overhead benchmark's moving parts: the two worker trees, their CPU times, one run.

Both sides run as child process trees of the benchmark (one process tree in all), against one
simulator. A run enqueues a batch, samples the simulator's request count until the side has
finished every ticket, and reads the side's CPU time (user + system, every process of its
tree, from /proc) before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from shared.demo_store.tenants import write as write_demo_tenants
from shared.keys import Keys
from shared.models import OutcomeStatus
from shared.stores.outcomes import OutcomeStore
from tests.bench import naive_agent
from tests.conftest import REDIS_URL, SimulatorProcess, delete_namespace

ROOT = Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf("SC_CLK_TCK")
BODIES = (
    "Hi, my order {n} has not arrived yet. Can you check the shipping status?",
    "I was charged twice for invoice {n}; please refund one of the payments.",
    "My package for order {n} shows delivered but nothing came. What now?",
    "How do I return the shoes from order {n}? The size is wrong.",
)


CUSTOMERS = 12  # acme's sample customers in the demo store (u-1 .. u-12)
CALLS_PER_TICKET = 3  # lookup, search, reply: the ticket


def ticket_doc(n: int, run: str) -> dict[str, Any]:
    """Order-like texts from the demo tenant's customers: the simulator looks the customer up
    through the tenant's connector, searches, then replies (the same three calls on both
    sides of the benchmark)."""
    return {
        "event_id": f"evt-{run}-{n}",
        "ticket_id": f"T-{run}-{n}",
        "tenant_id": "acme",
        "requester": {"id": f"u-{1 + n % CUSTOMERS}", "email": f"c{n}@example.com", "name": "Ann"},
        "subject": "About my order",
        "body": BODIES[n % len(BODIES)].format(n=1000 + n),
        "priority": "normal",
        "tags": [],
        "created_at": "2026-11-23T10:00:00Z",
    }


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / CLK_TCK


def redis_server_pid(port: int = 6379) -> int | None:
    """The shared redis-server's pid (its CPU is where the Lua scripts and round trips go)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if comm == "redis-server" and f":{port}" in cmdline:
            return int(entry)
    return None


def process_cpu_s(pid: int | None) -> float:
    got = None if pid is None else _stat(pid)
    return 0.0 if got is None else got[1]


def tree_cpu_s(root: int) -> float:
    """CPU seconds used so far by `root` and every live descendant."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            got = _stat(int(entry))
            if got is not None:
                parents[int(entry)], cpu[int(entry)] = got
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(cpu.get(pid, 0.0) for pid in tree)


@dataclass
class RunResult:
    calls_per_s: float
    cpu_ms_per_ticket: float
    # redis-server's CPU over the run (shared with whatever else ran on it meanwhile).
    redis_ms_per_ticket: float
    sim_ms_per_ticket: float
    calls_per_ticket: float
    seconds: float


class Side:
    """One worker tree (paceline or naive), its namespace, how to feed it and count it done."""

    def __init__(self, name: str, sim: SimulatorProcess, processes: int, threads: int) -> None:
        self.name = name
        self.namespace = f"plbench-oh-{name}-{uuid.uuid4().hex[:6]}"
        self.sim = sim
        self.client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        self.logs = tempfile.NamedTemporaryFile(
            prefix=f"bench-overhead-{name}-", suffix=".log", delete=False
        )
        # Both sides read the demo tenants file, its connector on the simulator's demo store:
        # the same four tool schemas and the same connector code on both.
        self.tenants_file = write_demo_tenants(
            sim.root_url, Path(self.logs.name).with_suffix(".tenants.toml")
        )
        self.env = worker_env(self.namespace, sim.base_url, self.tenants_file)
        self.redis_pid = redis_server_pid()
        self.proc = subprocess.Popen(
            self.command(processes, threads),
            cwd=ROOT,
            env=self.env,
            stdout=self.logs,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def command(self, processes: int, threads: int) -> list[str]:
        if self.name == "naive":
            module = ["-m", "tests.bench.naive_agent"]
        else:
            module = ["-m", "shared.cli.main", "worker"]
        return [sys.executable, *module, "--processes", str(processes), "--threads", str(threads)]

    def done(self) -> int:
        if self.name == "naive":
            return int(self.client.get(f"{self.namespace}:{naive_agent.DONE_KEY}") or 0)
        counts = OutcomeStore(self.client, Keys(self.namespace)).summary()
        return sum(counts[s.value] for s in OutcomeStatus if s.is_final)

    def send(self, docs: list[dict[str, Any]]) -> Callable[[], bool]:
        """Start enqueueing `docs`; returns a check that is True once the sending is over."""
        if self.name == "naive":
            thread = threading.Thread(
                target=naive_agent.send_batch, args=(self.namespace, REDIS_URL, docs)
            )
            thread.start()
            return lambda: not thread.is_alive()
        path = Path(self.logs.name).with_suffix(".jsonl")
        path.write_text("".join(json.dumps(d) + "\n" for d in docs))
        # `paceline enqueue`: the producer an operator would use, in its own process.
        proc = subprocess.Popen(
            [sys.executable, "-m", "shared.cli.main", "enqueue", str(path)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.logs,
        )  # fmt: skip
        return lambda: proc.poll() is not None

    def run(self, docs: list[dict[str, Any]], timeout_s: float = 300) -> RunResult:
        n = len(docs)
        done0 = self.done()
        calls0 = int(self.sim.stats()["requests"])
        cpu0 = tree_cpu_s(self.proc.pid)
        redis0 = process_cpu_s(self.redis_pid)
        sim0 = process_cpu_s(self.sim.proc.pid)
        started = time.perf_counter()
        sent = self.send(docs)
        samples: list[tuple[float, int]] = []
        while self.done() - done0 < n:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} workers exited: {self.log_tail()}")
            if time.perf_counter() - started > timeout_s:
                raise RuntimeError(f"{self.name}: {self.done() - done0}/{n} done in {timeout_s}s")
            samples.append((time.perf_counter(), int(self.sim.stats()["requests"]) - calls0))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        cpu = tree_cpu_s(self.proc.pid) - cpu0
        redis_cpu = process_cpu_s(self.redis_pid) - redis0
        sim_cpu = process_cpu_s(self.sim.proc.pid) - sim0
        while not sent():
            time.sleep(0.01)
        calls = int(self.sim.stats()["requests"]) - calls0
        samples.append((time.perf_counter(), calls))
        return RunResult(
            calls_per_s=steady_rate(samples, calls),
            cpu_ms_per_ticket=cpu * 1000 / n,
            redis_ms_per_ticket=redis_cpu * 1000 / n,
            sim_ms_per_ticket=sim_cpu * 1000 / n,
            calls_per_ticket=calls / n,
            seconds=seconds,
        )

    def log_tail(self, chars: int = 2000) -> str:
        self.logs.flush()
        return Path(self.logs.name).read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logs.close()
        for path in (Path(self.logs.name), Path(self.logs.name).with_suffix(".jsonl"),
                     self.tenants_file):  # fmt: skip
            path.unlink(missing_ok=True)
        delete_namespace(self.client, self.namespace)
        delete_namespace(self.client, f"{self.namespace}-naive")
        self.client.close()


def steady_rate(samples: list[tuple[float, int]], total: int) -> float:
    """Calls/s between 10% and 90% of the batch's calls: start-up and the tail left out."""
    low = next((s for s in samples if s[1] >= total * 0.1), samples[0])
    high = next((s for s in samples if s[1] >= total * 0.9), samples[-1])
    if high[0] <= low[0]:
        low, high = samples[0], samples[-1]
    return (high[1] - low[1]) / max(high[0] - low[0], 1e-6)


def worker_env(namespace: str, base_url: str, tenants_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PACELINE_")}
    env.update(
        {
            "PACELINE_REDIS_URL": REDIS_URL,
            "PACELINE_NAMESPACE": namespace,
            "PACELINE_LLM_BASE_URL": base_url,
            "PACELINE_LLM_API_KEY": "sk-bench-overhead",
            "PACELINE_ALLOW_PRIVATE_NETWORKS": "true",
            "PACELINE_TENANTS_FILE": str(tenants_file),
            # Caps high and pacing off: the benchmark measures the machinery, not the money.
            "PACELINE_PACING": "off",
            "PACELINE_DAILY_CEILING_USD": "10000",
            "PACELINE_TENANT_DAILY_CAP_USD": "10000",
            "PACELINE_USER_DAILY_CAP_USD": "10000",
            "PACELINE_METRICS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
