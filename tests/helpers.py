"""Real parts for tests: a webhook app under uvicorn, a callback receiver, signing, polling."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from shared.settings import Settings
from tests.conftest import ROOT, free_port


def sign_generic(secret: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Paceline-Timestamp": stamp,
        "X-Paceline-Signature": f"sha256={mac}",
        "Content-Type": "application/json",
    }


class WebhookServer:
    """The real webhook app on loopback, in a thread."""

    def __init__(self, settings: Settings) -> None:
        from producers.webhook.app import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> WebhookServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class CallbackReceiver:
    """Records every POST it receives (the generic source's reply endpoint)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver.lock:
                    receiver.received.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/replies"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CallbackReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class EchoingHelpdesk(CallbackReceiver):
    """A helpdesk integration that posts every reply it receives back to paceline as a new
    customer message on the same ticket, carrying the reply's idempotency key."""

    def __init__(self, webhook_url: str, secret: str) -> None:
        super().__init__()
        self.webhook_url = webhook_url
        self.secret = secret
        self.echoed = 0
        self.answers: list[int] = []
        receiver = self
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver.lock:
                    received.append({"headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                threading.Thread(target=receiver.echo, args=(body, dict(self.headers))).start()

            def log_message(self, *args: Any) -> None:
                return

        self.server.RequestHandlerClass = Handler

    def echo(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        n = 100 + len(self.received)
        doc = generic_ticket(
            n,
            ticket_id=body["ticket_id"],
            tenant_id=body.get("tenant_id") or "acme",
            event_type="message.created",
        )
        doc.update(body=body.get("reply") or "", idempotency_key=headers["Idempotency-Key"])
        doc.update(callback_url=self.url, author={"role": "customer", "id": "u-1"})
        raw = json.dumps(doc).encode()
        try:
            resp = httpx.post(
                self.webhook_url, content=raw, headers=sign_generic(self.secret, raw), timeout=10
            )
            status = resp.status_code
        except httpx.HTTPError:
            status = 0
        with self.lock:
            self.echoed += 1
            self.answers.append(status)


def tkey(ticket_id: str, tenant: str = "acme", source: str = "generic") -> str:
    """The outcome key of a test ticket (tenant and source default to the fixtures')."""
    from shared.keys import ticket_key

    return ticket_key(tenant, source, ticket_id)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 30, every_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()


def generic_ticket(n: int | str, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": f"evt-{n}",
        "ticket_id": f"T-{n}",
        "tenant_id": "acme",
        "requester": {"id": "u-1", "email": "ann@example.com", "name": "Ann"},
        "subject": "Where is my order?",
        "body": "Hi, my order has not arrived yet. Can you check the shipping status?",
        "priority": "normal",
        "tags": [],
        "created_at": "2026-11-23T10:00:00Z",
    }
    doc.update(over)
    return doc


class ReleaseLoop:
    """Releases due parked tickets every `every_s` (what the scheduler does, minus pacing)."""

    def __init__(self, ctx: Any, broker: Any, every_s: float = 0.2) -> None:
        self.ctx = ctx
        self.broker = broker
        self.every_s = every_s
        self.stop_event = threading.Event()
        self.released = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop_event.wait(self.every_s):
            done = self.ctx.parking.release_due(self.ctx.now_ms(), self.broker.enqueue)
            self.released += sum(done.values())

    def __enter__(self) -> ReleaseLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)


def worker_intake(worker: Any, dedupe_window_s: int = 600) -> Any:
    """The producers' Intake onto a `RunningWorker`'s broker, Redis, keys and clock."""
    from producers.enqueue import Intake

    ctx = worker.ctx
    return Intake(
        broker=worker.broker,
        client=ctx.redis,
        keys=ctx.keys,
        clock=ctx.clock,
        dedupe_window_s=dedupe_window_s,
        tz=ctx.settings.tz,
    )


# --- the demo help centre, as `paceline up --demo` imports it ----------------------------
DEMO_TENANTS = ("acme", "globex", "initech")
_EMBEDDER: list[Any] = []  # one in-process embedder for the whole test session (0.15 s load)


def demo_embedder() -> Any:
    from shared.knowledge.embed import WordLlamaEmbedder

    if not _EMBEDDER:
        _EMBEDDER.append(WordLlamaEmbedder())
    return _EMBEDDER[0]


def import_demo_help_centre(settings: Settings, tenants: tuple[str, ...] = DEMO_TENANTS) -> None:
    """The Markdown help centre in shared/data/demo/kb into each tenant of the namespace."""
    from shared.keys import Keys
    from shared.knowledge import Importer, KnowledgeStore, read_source
    from shared.redis_client import make_redis

    client = make_redis(settings, max_connections=2)
    store = KnowledgeStore(client, Keys(settings.namespace))
    try:
        parsed = read_source(str(ROOT / "shared" / "data" / "demo" / "kb"))
        for tenant in tenants:
            Importer(store, demo_embedder()).run(tenant, parsed)
    finally:
        store.close()
        client.close()


# Searchers the tests made, closed after each test (tests/conftest.py).
OPEN_SEARCHERS: list[Any] = []


def demo_knowledge(settings: Settings) -> Any:
    """A searcher over the demo help centre, imported into the namespace first; closed when
    the test ends."""
    from shared.clock import SystemClock
    from shared.keys import Keys
    from shared.knowledge import IndexCache, KnowledgeStore, Searcher
    from shared.redis_client import make_redis

    import_demo_help_centre(settings)
    store = KnowledgeStore(make_redis(settings, max_connections=8), Keys(settings.namespace))
    searcher = Searcher(
        IndexCache(store, SystemClock(), settings.knowledge_refresh_s), demo_embedder()
    )
    OPEN_SEARCHERS.append(searcher)
    return searcher


def demo_tenants_file(simulator_base_url: str, folder: Path) -> Path:
    """The demo tenants file (`make run`'s), its connectors on the simulator at
    `simulator_base_url` (its `/v1` URL or its root): order tickets look the requester up."""
    from shared.demo_store.tenants import write

    return write(simulator_base_url.removesuffix("/v1"), folder / "demo-tenants.toml")
