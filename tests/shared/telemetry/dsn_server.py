"""A local HTTP server that plays Sentry's ingest endpoint: the real transport posts to it."""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sentry_sdk.envelope import Envelope


class _Handler(BaseHTTPRequestHandler):
    server: SentryStandIn

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        self.server.record(raw)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep pytest output clean


class SentryStandIn(ThreadingHTTPServer):
    """Collects every envelope's raw bytes and its events."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.raw: list[bytes] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/1"

    def record(self, raw: bytes) -> None:
        with self._lock:
            self.raw.append(raw)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            raws = list(self.raw)
        found = []
        for raw in raws:
            event = Envelope.deserialize(raw).get_event()
            if event is not None:
                found.append(dict(event))
        return found

    def all_bytes(self) -> bytes:
        with self._lock:
            return b"\n".join(self.raw)

    def wait_for_events(self, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            events = self.events()
            if len(events) >= count:
                return events
            time.sleep(0.02)
        return self.events()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
