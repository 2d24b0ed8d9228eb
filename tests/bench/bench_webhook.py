"""Webhook ingest (verify, dedupe, enqueue) on one uvicorn process, seen over loopback.

The load generator is 8 threads, each with its own httpx client (8 requests in flight); every
request is a new, correctly signed generic ticket (so each one does the full work: HMAC,
validation, dedupe claim, pending outcome, enqueue). Baseline, same process and same run: a
route on the same app that only parses the JSON and enqueues it (no signature, no ticket
validation, no dedupe, no outcome) -- the ratio is what our checks cost.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.vendors.generic import sign  # noqa: E402

SECRET = "bench-webhook-secret-8a0d"
THREADS = 8  # requests in flight
TARGET_RPS = 1000.0
TARGET_P99_MS = 50.0
COMMAND = ".venv/bin/python tests/bench/bench_webhook.py"
SERVER = """
import json, sys
import dramatiq, uvicorn
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from producers.webhook.app import create_app
from shared.broker import build_broker
from shared.messages import HANDLE_TICKET
from shared.redis_client import make_redis
from shared.settings import load_settings

settings = load_settings()
broker = build_broker(settings)
app = create_app(settings, broker=broker, redis_client=make_redis(settings))

@app.post("/bench/enqueue-only")
async def enqueue_only(request: Request) -> JSONResponse:
    doc = json.loads(await request.body())
    msg = dramatiq.Message(queue_name="tickets_live", actor_name=HANDLE_TICKET, args=(doc,),
                           kwargs={"lane": "live"}, options={})
    await run_in_threadpool(broker.enqueue, msg)
    return JSONResponse({"job_id": msg.message_id, "duplicate": False}, status_code=202)

# The same uvicorn defaults `paceline webhook` uses (uvloop + httptools when installed).
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False,
            log_level="warning", lifespan="off")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", SERVER, str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("webhook app did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _requests(n: int, signed: bool) -> list[tuple[bytes, dict[str, str]]]:
    """Bodies and headers built before the clock starts: signing is the sender's cost."""
    run = uuid.uuid4().hex[:8]
    out = []
    for i in range(n):
        doc = {
            "event_id": f"evt-{run}-{i}",
            "ticket_id": f"T-{run}-{i}",
            "tenant_id": "acme",
            "requester": {"id": f"u-{i % 50}", "email": "a@example.com", "name": "Ann"},
            "subject": "Where is my order?",
            "body": "I ordered a kettle two weeks ago and it has not arrived. " * 4,
            "priority": "normal",
            "tags": ["shipping"],
        }
        body = json.dumps(doc).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            headers.update(sign(SECRET.encode(), body, int(time.time())))
        out.append((body, headers))
    return out


def _raw_request(path: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_response(sock: socket.socket, buf: bytes) -> tuple[int, bytes]:
    """(status, bytes left over) for one HTTP/1.1 response with a Content-Length."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        rest += chunk
    return status, rest[length:]


def _load(url: str, work: list[tuple[bytes, dict[str, str]]]) -> tuple[float, list[float]]:
    """(requests per second, latencies in ms); every answer must be 202.

    `THREADS` keep-alive connections, each a thread sending requests pre-rendered to bytes
    and reading the answer with a minimal HTTP/1.1 parser: the load generator shares the two
    cores with the app, so it must cost far less than the app (an httpx client per thread
    took about half a core of its own; httpx's async pool measured itself at ~400 req/s).
    """
    parsed = httpx.URL(url)
    port = int(parsed.port or 80)
    wire = [_raw_request(parsed.path, port, body, headers) for body, headers in work]
    latencies_ms: list[float] = []
    failures: list[int] = []
    queue = iter(wire)
    lock = threading.Lock()

    def worker() -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                t0 = time.perf_counter()
                sock.sendall(item)
                status, buf = _read_response(sock, buf)
                elapsed_ms = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies_ms.append(elapsed_ms)
                    if status != 202:
                        failures.append(status)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed_s = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests not accepted, e.g. HTTP {failures[0]}")
    if len(latencies_ms) != len(work):
        raise RuntimeError(f"{len(work) - len(latencies_ms)} requests not answered")
    return len(work) / elapsed_s, latencies_ms


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _row(
    name: str, figure: float, unit: str, baseline: float | None, target: str, ok: bool | None
) -> dict[str, Any]:
    return {
        "issue": 7,
        "name": name,
        "figure": round(figure, 1),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 1),
        "ratio": None if not baseline else round(figure / baseline, 3),
        "target": target,
        "pass": ok,
        "command": COMMAND,
    }


def _cleanup(namespace: str) -> None:
    client = redis.Redis.from_url(os.environ.get("PACELINE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.unlink(*keys[i : i + 500])
    finally:
        client.close()


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 1_000 if quick else 5_000
    namespace = f"plbench-webhook-{uuid.uuid4().hex[:8]}"
    env = {"PACELINE_NAMESPACE": namespace, "PACELINE_WEBHOOK_SECRET_GENERIC": SECRET}
    port = _free_port()
    proc = _start(port, env)
    base = f"http://127.0.0.1:{port}"
    try:
        _load(f"{base}/webhooks/generic", _requests(200, signed=True))  # warm up
        _load(f"{base}/bench/enqueue-only", _requests(200, signed=False))
        raw_rps, raw_lat = _load(f"{base}/bench/enqueue-only", _requests(n, signed=False))
        rps, lat = _load(f"{base}/webhooks/generic", _requests(n, signed=True))
    finally:
        _stop(proc)
        _cleanup(namespace)
    load = f"{n} requests, {THREADS} in flight, one uvicorn process, loopback"
    return [
        _row(
            "webhook ingest throughput",
            rps,
            "req/s",
            raw_rps,
            f">= {TARGET_RPS:.0f} req/s; {load}",
            rps >= TARGET_RPS,
        ),
        _row(
            "webhook ingest p99 latency",
            _p99(lat),
            "ms",
            _p99(raw_lat),
            f"< {TARGET_P99_MS:.0f} ms; {load}",
            _p99(lat) < TARGET_P99_MS,
        ),
        _row("enqueue-only route throughput (baseline)", raw_rps, "req/s", None, "reference", None),
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
