"""Connector overhead per call (issue 21): CPU ms of paceline's process per call through a
tenant's connector, against a raw httpx call to the same local service in the same process.

The service is a separate process (its CPU is not counted) answering a 1 KB JSON document at
0 ms. paceline's side is the whole tool path the agent takes: `BoundTools.execute` with the
model's JSON arguments, argument check, requester filled in, the outbound guard (address
check, pinned connect), the answer streamed under its cap, parsed, projected and fenced.
The baseline is `httpx.Client.get` on a kept-alive connection plus `json.loads`. Rounds of
each side alternate (ABAB) and the median round counts; CPU is `time.process_time`.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.connectors import (  # noqa: E402
    Connector,
    ConnectorCaller,
    ConnectorDirectory,
    ConnectorSpec,
)
from shared.models import Requester, Ticket  # noqa: E402
from shared.outbound import OutboundClient  # noqa: E402
from tests.bench.common import row  # noqa: E402
from workers.agent.tools import ToolBox  # noqa: E402

COMMAND = ".venv/bin/python tests/bench/run_all.py --only connectors"
TARGET_MS = 2.0
SERVICE = """
import json, socket, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
DOC = json.dumps({"found": True, "plan": "pro",
    "orders": [{"order_id": f"AC-{n}", "status": "shipped", "total_cents": 1999} for n in range(14)]
}).encode()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()  # headers and body are two writes: no Nagle wait between them
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(DOC)))
        self.end_headers()
        self.wfile.write(DOC)
    def log_message(self, *a):
        pass
server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
server.serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_service() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVICE, str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/customers/x", timeout=0.5)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the bench service did not start")


def _spec(url: str) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "name": "lookup_orders",
            "description": "The orders of this ticket's customer",
            "parameters": {
                "properties": {"kind": {"type": "string", "enum": ["orders", "all"]}},
                "required": ["kind"],
            },
            "request": {"url": f"{url}/customers/{{requester.id}}", "query": {"kind": "{kind}"}},
            "response": {"projection": {"plan": "/plan", "orders": "/orders"}},
            "max_calls_per_ticket": 10,
        }
    )


def _cpu_ms_per_call(fn: Any, calls: int) -> float:
    started = time.process_time()
    for n in range(calls):
        fn(n)
    return (time.process_time() - started) * 1000 / calls


def run(quick: bool = False) -> list[dict[str, Any]]:
    calls, rounds = (200, 3) if quick else (1_000, 5)
    proc, url = _start_service()
    http = OutboundClient(allow_private=True)
    directory = ConnectorDirectory(
        {"acme": (Connector(_spec(url)),)}, ConnectorCaller(http, owns_http=True)
    )
    box = ToolBox(connectors=directory)
    raw = httpx.Client(timeout=5.0, trust_env=False)
    tickets = [
        Ticket(event_id=f"e{n}", ticket_id=f"T{n}", tenant_id="acme",
               requester=Requester(id=f"u-{n}", email=f"u{n}@acme.example"),
               subject="Order", body="Where is my order?")
        for n in range(10)
    ]  # fmt: skip

    def connector(n: int) -> None:
        bound = box.bind(tickets[n % 10])
        outcome = bound.execute("lookup_orders", '{"kind": "all"}')
        assert outcome.status == "ok", outcome.content

    def baseline(n: int) -> None:
        response = raw.get(f"{url}/customers/u-{n % 10}", params={"kind": "all"})
        assert json.loads(response.content)["found"]

    try:
        for fn in (connector, baseline):  # warm both: connections, imports, caches
            _cpu_ms_per_call(fn, 50)
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):
            ours.append(_cpu_ms_per_call(connector, calls))
            theirs.append(_cpu_ms_per_call(baseline, calls))
    finally:
        raw.close()
        box.close()
        proc.terminate()
        proc.wait(timeout=10)
    mine, base = statistics.median(ours), statistics.median(theirs)
    overhead = mine - base
    return [
        row(21, f"connector call, CPU ms/call (median of {rounds} ABAB rounds of {calls})",
            mine, "ms", baseline=base, higher_is_better=False, command=COMMAND),
        row(21, "connector overhead over raw httpx, CPU ms/call", overhead, "ms",
            target=f"<= {TARGET_MS} ms", passed=overhead <= TARGET_MS, command=COMMAND,
            higher_is_better=False),
    ]  # fmt: skip


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(json.dumps(r))
