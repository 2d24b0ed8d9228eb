"""Providers: `paceline check`'s wall time, and the agent's CPU per ticket in each dialect.

Check: `paceline check --json` as a user runs it (a fresh process: interpreter start, imports,
every check) against the local Redis and a simulator; the median of several runs.
CPU: `time.thread_time()` around `Agent.run` for the two-call ticket of bench_agent, against a
simulator answering as OpenAI, vLLM, Ollama, LiteLLM and Azure; the OpenAI dialect is the
baseline of the same run, so the ratio is what each server's differences cost the agent
(Ollama's missing usage included: every call there is settled at its worst case).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from shared.clock import SystemClock
from shared.settings import Settings, load_settings, price_table
from tests.bench.bench_agent import ENVELOPE_MICROS, TARGET_CPU_MS, _ticket
from tests.bench.common import row
from tests.conftest import REDIS_URL, ROOT, SimulatorProcess
from workers.agent.budget import LocalBudget
from workers.agent.llm import LLMClient
from workers.agent.runner import Agent
from workers.agent.tools import ToolBox

ISSUE = 25
COMMAND = ".venv/bin/python tests/bench/run_all.py --only providers"
TARGET_CHECK_S = 2.0
DEPLOYMENT = "bench-deployment"


def _check_wall_s(sim: SimulatorProcess, runs: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    env.update({"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_LLM_BASE_URL": sim.base_url,
                "PACELINE_NAMESPACE": "plbench-check"})  # fmt: skip
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        argv = [sys.executable, "-m", "shared.cli.main", "check", "--json"]
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        out.append(time.perf_counter() - started)
        assert done.returncode == 0 and json.loads(done.stdout)["ok"], done.stdout
    return out


def _settings(sim: SimulatorProcess, azure: bool) -> Settings:
    env = {"PACELINE_NAMESPACE": "plbench-providers", "PACELINE_LLM_API_KEY": "bench"}
    if azure:
        env.update({"PACELINE_LLM_PROVIDER": "azure", "PACELINE_AZURE_ENDPOINT": sim.root_url,
                    "PACELINE_MODEL": DEPLOYMENT, "PACELINE_MODEL_LADDER": DEPLOYMENT,
                    "PACELINE_MODEL_ALIASES": json.dumps({DEPLOYMENT: "gpt-4o-mini"})})  # fmt: skip
    else:
        env["PACELINE_LLM_BASE_URL"] = sim.base_url
    return load_settings(env)


def _cpu_ms(dialect: str, n: int) -> float:
    azure = dialect == "azure"
    args = ["--seed", "7", "--deployments", DEPLOYMENT]
    sim = SimulatorProcess(*args, "--dialect", "openai" if azure else dialect)
    try:
        settings = _settings(sim, azure)
        agent = Agent(settings=settings, llm=LLMClient(settings), prices=price_table(settings),
                      clock=SystemClock(), tools=ToolBox())  # fmt: skip
        samples = []
        for i in range(n + 10):  # the first ten warm pools and caches
            start = time.thread_time()
            result = agent.run(_ticket(i), LocalBudget(ENVELOPE_MICROS))
            samples.append((time.thread_time() - start) * 1000)
            assert result.status == "answered" and result.llm_calls == 2, (dialect, result)
        agent.close()
        return statistics.median(samples[10:])
    finally:
        sim.stop()


def run(quick: bool = False) -> list[dict[str, Any]]:
    rows = []
    sim = SimulatorProcess("--seed", "7")
    try:
        _check_wall_s(sim, 1)  # warm the page cache
        wall_s = statistics.median(_check_wall_s(sim, 3 if quick else 7))
    finally:
        sim.stop()
    rows.append(row(ISSUE, "paceline check wall time, local stack (median, fresh process)",
                    wall_s, "s", target=f"<= {TARGET_CHECK_S} s", passed=wall_s <= TARGET_CHECK_S,
                    command=COMMAND, higher_is_better=False))  # fmt: skip
    n = 40 if quick else 300
    baseline = _cpu_ms("openai", n)
    for dialect in ("openai", "vllm", "ollama", "litellm", "azure"):
        ms = baseline if dialect == "openai" else _cpu_ms(dialect, n)
        rows.append(row(ISSUE, f"agent CPU per two-call ticket, {dialect} (median)", ms, "ms",
                        baseline=None if dialect == "openai" else baseline,
                        target=f"<= {TARGET_CPU_MS} ms", passed=ms <= TARGET_CPU_MS,
                        command=COMMAND, higher_is_better=False))  # fmt: skip
    return rows


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
