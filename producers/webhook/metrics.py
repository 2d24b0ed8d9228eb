"""The webhook app's metrics: a count of webhook requests by source and status, and the state
gauges (spend, parked, queues, DLQ, circuit) refreshed on scrape; see
shared/stores/gauges.py for why workers do not export them.

They are served on the internal metrics port (`PACELINE_METRICS_PORT`) by the process, never
by the app: tenant names and spend are not for whoever can reach the public webhook port. The
request counter is a plain ASGI wrapper (no BaseHTTPMiddleware: it would add a task per
request on the hot path).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import dramatiq
import redis
from fastapi import FastAPI

from shared.clock import Clock
from shared.metrics import Metrics
from shared.metrics_server import build_metrics
from shared.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
PREFIX = "/webhooks/"


class CountWebhookRequests:
    """Counts `POST /webhooks/<source>` by source (known ones only: a label is never free
    text a client chose) and response status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, sources: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.sources = sources

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # `/webhooks/<source>` or `/webhooks/<source>/<tenant>`: the label is the source.
            source = path[len(PREFIX) :].strip("/").split("/", 1)[0]
            self.metrics.webhook_request(
                source=source if source in self.sources else "unknown", status=status
            )


def count_requests(
    app: FastAPI,
    settings: Settings,
    *,
    client: redis.Redis,
    clock: Clock,
    broker: dramatiq.Broker,
    sources: frozenset[str],
) -> Metrics:
    """The app's metrics (its registry for the metrics server), counting its requests."""
    metrics = build_metrics(settings, client=client, clock=clock, broker=broker, state=True)
    app.add_middleware(CountWebhookRequests, metrics=metrics, sources=sources)
    return metrics
