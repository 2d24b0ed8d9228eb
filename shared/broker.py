"""Broker construction: a function, never an import-time global.

The dramatiq broker lives under `<namespace>:dq`, so two namespaces on one Redis never share
a queue, a heartbeat or a dead letter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from shared.keys import Keys
from shared.settings import Settings

# (queue name, consumer) -> the consumer to use instead.
ConsumerWrapper = Callable[[str, Any], Any]


class HookedRedisBroker(RedisBroker):
    """dramatiq's Redis broker, plus wrappers around the consumers it makes: the admission
    middleware admits a fetched batch of tickets in one round trip there
    (workers/admission/batch.py)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.consumer_wrappers: list[ConsumerWrapper] = []

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Any:
        consumer = super().consume(queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        for wrap in self.consumer_wrappers:
            consumer = wrap(queue_name, consumer)
        return consumer


def is_rabbitmq(settings: Settings) -> bool:
    """Whether the broker is RabbitMQ (`amqp://`, `amqps://`) rather than Redis; the one place
    that asks, so every path that publishes or reads queues agrees."""
    return settings.effective_broker_url.startswith(("amqp://", "amqps://"))


def queue_prefix(settings: Settings) -> str | None:
    """RabbitMQ queues are global to the vhost, so the namespace goes into their names."""
    return settings.namespace if is_rabbitmq(settings) else None


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
    if is_rabbitmq(settings):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # Publisher confirms are off by default in dramatiq; a lost publish is a lost ticket.
        broker: dramatiq.Broker = RabbitmqBroker(url=url, middleware=mw, confirm_delivery=True)
        return broker
    return HookedRedisBroker(
        url=url,
        middleware=mw,
        namespace=keys.dramatiq_namespace,
        heartbeat_timeout=settings.heartbeat_timeout_ms,
        maintenance_chance=settings.broker_maintenance_per_million,
    )
