"""Requests per second the simulator serves at zero latency, seen from the openai SDK.

Baseline: a bare ASGI app on the same uvicorn settings returning a canned completion, so the
ratio is the share of raw server throughput our policy, accounting and limits leave.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai

from shared.simulator.config import SimConfig
from shared.simulator.server import command

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8
TARGET_RPS = 300.0
TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("lookup_customer_history", "search_knowledge_base", "escalate_to_human", "send_reply")
]
MESSAGES = [
    {"role": "system", "content": "You are the support agent. " * 20},
    {"role": "user", "content": "<ticket>\nSubject: Where is my order?\n\nIt is late.\n</ticket>"},
]
BARE_APP = """
import json, sys, uvicorn
BODY = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
  "choices": [{"index": 0, "finish_reason": "stop",
               "message": {"role": "assistant", "content": "Hello there, how can I help?"}}],
  "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
            access_log=False, log_level="warning", lifespan="off")
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/models", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _measure(base_url: str, duration_s: float, **request: Any) -> float:
    llm = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    done = [0] * THREADS
    stop_at = time.monotonic() + duration_s

    def worker(i: int) -> None:
        while time.monotonic() < stop_at:
            result = llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **request)
            if request.get("stream"):
                for _chunk in result:
                    pass
            done[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    llm.close()
    return sum(done) / (time.monotonic() - started)


def _row(
    name: str, figure: float, baseline: float | None, target: str, ok: bool | None
) -> dict[str, Any]:
    return {
        "issue": 2,
        "name": name,
        "figure": round(figure, 1),
        "unit": "req/s",
        "baseline": None if baseline is None else round(baseline, 1),
        "ratio": None if not baseline else round(figure / baseline, 3),
        "target": target,
        "pass": ok,
        "command": ".venv/bin/python -m tests.bench.bench_simulator",
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    duration_s = 2.0 if quick else 5.0
    sim_port, bare_port = _free_port(), _free_port()
    sim = _start(command("127.0.0.1", sim_port, SimConfig(seed=7)), sim_port)
    bare = _start([sys.executable, "-c", BARE_APP, str(bare_port)], bare_port)
    try:
        base_url = f"http://127.0.0.1:{sim_port}/v1"
        _measure(base_url, 0.5, tools=TOOLS)  # warm up connections and code paths
        baseline = _measure(f"http://127.0.0.1:{bare_port}/v1", duration_s)
        plain = _measure(base_url, duration_s)
        tools = _measure(base_url, duration_s, tools=TOOLS)
        stream = _measure(
            base_url, duration_s, tools=TOOLS, stream=True, stream_options={"include_usage": True}
        )
    finally:
        _stop(sim)
        _stop(bare)
    target = f">= {TARGET_RPS:.0f} req/s, {THREADS} SDK threads, zero latency"
    return [
        _row("simulator plain completion", plain, baseline, target, plain >= TARGET_RPS),
        _row("simulator tool call", tools, baseline, target, tools >= TARGET_RPS),
        _row(
            "simulator streamed tool call + usage", stream, baseline, target, stream >= TARGET_RPS
        ),
        _row("bare uvicorn canned completion (baseline)", baseline, None, "reference", None),
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
