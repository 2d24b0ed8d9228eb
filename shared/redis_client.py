"""Redis connections, built from settings in entry points (no module-level client)."""

from __future__ import annotations

import redis

from shared.settings import Settings

POOL_WAIT_S = 10


def make_redis(settings: Settings, *, max_connections: int = 64) -> redis.Redis:
    """A client that returns `str`. The pool blocks (up to `POOL_WAIT_S`) when every
    connection is in use, instead of raising at once under a burst of threads."""
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        decode_responses=True,
        max_connections=max_connections,
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_timeout=10,
        timeout=POOL_WAIT_S,
    )
    return redis.Redis(connection_pool=pool)
