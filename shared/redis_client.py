"""Redis connections, built from settings in entry points (no module-level client)."""

from __future__ import annotations

import redis

from shared.settings import Settings


def make_redis(settings: Settings, *, max_connections: int = 64) -> redis.Redis:
    """A client that returns `str`; a pool sized for a threaded worker."""
    pool = redis.ConnectionPool.from_url(
        settings.redis_url,
        decode_responses=True,
        max_connections=max_connections,
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_timeout=10,
    )
    return redis.Redis(connection_pool=pool)
