"""Broker construction: a function, never an import-time global.

The dramatiq broker lives under `<namespace>:dq`, so two namespaces on one Redis never share
a queue, a heartbeat or a dead letter.
"""

from __future__ import annotations

from collections.abc import Iterable

import dramatiq
from dramatiq.middleware import Middleware

from shared.keys import Keys
from shared.settings import Settings


def default_middleware() -> list[Middleware]:
    """dramatiq's defaults minus `Retries` (ours is bounded and typed) and Prometheus (opt-in)."""
    from dramatiq.middleware import (
        AgeLimit,
        Callbacks,
        CurrentMessage,
        Pipelines,
        ShutdownNotifications,
        TimeLimit,
    )

    return [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        CurrentMessage(),
    ]


def build_broker(
    settings: Settings,
    *,
    middleware: Iterable[Middleware] | None = None,
) -> dramatiq.Broker:
    """A dramatiq broker in the settings' namespace; Redis by default, RabbitMQ for amqp://."""
    mw = list(middleware) if middleware is not None else default_middleware()
    url = settings.effective_broker_url
    keys = Keys(settings.namespace)
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # Publisher confirms are off by default in dramatiq; a lost publish is a lost ticket.
        broker: dramatiq.Broker = RabbitmqBroker(url=url, middleware=mw, confirm_delivery=True)
        return broker
    from dramatiq.brokers.redis import RedisBroker

    return RedisBroker(  # type: ignore[no-untyped-call]
        url=url,
        middleware=mw,
        namespace=keys.dramatiq_namespace,
        heartbeat_timeout=settings.heartbeat_timeout_ms,
        maintenance_chance=settings.broker_maintenance_per_million,
    )
