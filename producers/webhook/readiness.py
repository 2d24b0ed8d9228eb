"""`/readyz`: is Redis (the ledger and dedupe) and the broker reachable right now?"""

from __future__ import annotations

import logging

import dramatiq
import redis

log = logging.getLogger(__name__)


def unreachable(client: redis.Redis, broker: dramatiq.Broker) -> list[str]:
    """Names of the dependencies that did not answer; empty when ready."""
    down: list[str] = []
    try:
        client.ping()
    except (redis.RedisError, OSError):
        down.append("redis")
    try:
        broker_client = getattr(broker, "client", None)
        if isinstance(broker_client, redis.Redis):
            broker_client.ping()
        else:
            # RabbitMQ: opening the thread's connection proves the broker answers.
            _ = broker.connection  # type: ignore[attr-defined]
    except Exception as exc:  # any broker-specific failure means "not ready", not a 500
        log.info("broker not ready: %s", type(exc).__name__)
        down.append("broker")
    return down
