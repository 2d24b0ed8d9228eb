"""Serving a process's metrics: its registry built, its state gauges refreshed on scrape, and
an HTTP server for Prometheus (or a `/metrics` route in the webhook app).

Multi-process workers: each process serves its own registry on its own port (the next free
one above `metrics_port`), and Prometheus scrapes every one.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
    start_http_server,
)

from shared.clock import Clock
from shared.metrics import Metrics
from shared.settings import Settings
from shared.stores.gauges import StateGauges

log = logging.getLogger("paceline.metrics")

STATE_REFRESH_S = 2.0
# Worker processes on one host take the next free port above `metrics_port`.
PORT_TRIES = 64


class _RefreshOnScrape:
    """Registered before the metrics, so a scrape refreshes the gauges it is about to read."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.gauges: StateGauges | None = None
        self.metrics: Metrics | None = None
        self._last = float("-inf")
        self._lock = threading.Lock()

    def collect(self) -> list[Any]:
        if self.gauges is None or self.metrics is None:
            return []
        with self._lock:
            if time.monotonic() - self._last < self.every_s:
                return []
            self._last = time.monotonic()
            try:
                self.gauges.apply(self.metrics)
            except Exception as exc:  # a scrape must answer even with Redis down
                log.warning("state gauges not refreshed: %s", type(exc).__name__)
        return []


def build_metrics(
    settings: Settings,
    *,
    client: redis.Redis | None = None,
    clock: Clock | None = None,
    broker: dramatiq.Broker | None = None,
    state: bool = False,
    refresh_s: float = STATE_REFRESH_S,
) -> Metrics:
    """A process's `Metrics` on its own registry; with `state`, gauges refresh on scrape."""
    registry = CollectorRegistry()
    refresher = _RefreshOnScrape(refresh_s)
    registry.register(refresher)
    metrics = Metrics(registry)
    if state and client is not None:
        refresher.gauges = StateGauges(settings, client, clock=clock, broker=broker)
        refresher.metrics = metrics
    return metrics


def start_process_metrics(settings: Settings, metrics: Metrics) -> MetricsServer | None:
    """Serve `metrics` on `metrics_port` (or the next free port above it); None when 0."""
    if settings.metrics_port == 0:
        return None
    for port in range(settings.metrics_port, settings.metrics_port + PORT_TRIES):
        try:
            server = start_metrics_server(metrics.registry, port, addr=settings.metrics_host)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        log.info("metrics on %s port %d", settings.metrics_host, server.port)
        return server
    log.warning("no free metrics port from %d", settings.metrics_port)
    return None


def render_metrics(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The body and content type for a `/metrics` route (FastAPI: `Response(body, media_type=)`)."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics_response(registry: CollectorRegistry) -> Any:
    """A ready Starlette/FastAPI response for `/metrics`."""
    from starlette.responses import Response

    body, content_type = render_metrics(registry)
    return Response(content=body, media_type=content_type)


@dataclass
class MetricsServer:
    port: int
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(
    registry: CollectorRegistry,
    port: int,
    *,
    addr: str = "0.0.0.0",  # noqa: S104 - scraped
) -> MetricsServer:
    """Serve `registry` on `addr:port` in a daemon thread (port 0 picks a free one)."""
    server, thread = start_http_server(port, addr=addr, registry=registry)
    return MetricsServer(port=int(server.server_port), _server=server, _thread=thread)
