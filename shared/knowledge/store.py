"""Where every worker finds a tenant's help centre: index images in Redis and a pointer.

An import writes a whole new image under a new version (with a TTL, so one that dies
half-way leaves nothing behind) and then flips the tenant's `current` pointer in one script.
Until that flip every reader sees the previous version, whole; after it, the new one.
One import runs at a time per tenant (a lease that the import renews as it goes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import redis

from shared.errors import KnowledgeError
from shared.keys import Keys

STAGING_TTL_S = 3600
REPLACED_GRACE_S = 120
LOCK_LEASE_MS = 15_000


def _script(name: str) -> str:
    return (resources.files("shared.knowledge") / f"{name}.lua").read_text()


def binary_client(client: redis.Redis) -> redis.Redis:
    """A client on the same server and options that returns bytes (index images)."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return redis.Redis(
        connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    )


class ImportLock:
    def __init__(self, store: KnowledgeStore, tenant: str, token: str) -> None:
        self._store = store
        self.tenant = tenant
        self.token = token

    def renew(self) -> None:
        """Extend the lease; raises when it was lost (the import must not publish)."""
        if not self._store._lock_op(self, "renew"):
            raise KnowledgeError(f"tenant {self.tenant!r}: import lock lost (took too long?)")


class KnowledgeStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        """`client` may decode responses or not: images are read through a bytes client."""
        self._owned = _decodes(client)
        self._r = binary_client(client) if self._owned else client
        self._keys = keys
        self._publish = self._r.register_script(_script("publish"))
        self._lock = self._r.register_script(_script("lock"))

    def close(self) -> None:
        if self._owned:
            self._r.close()

    def tenants(self) -> list[str]:
        return sorted(t.decode() for t in self._r.smembers(self._keys.kb_tenants))  # type: ignore[union-attr]

    def current_version(self, tenant: str) -> str | None:
        raw: Any = self._r.get(self._keys.kb_current(tenant))
        return raw.decode() if raw else None

    def load(self, tenant: str) -> tuple[str, bytes] | None:
        """(version, image) of the tenant's current index, or None when it has none."""
        for _attempt in range(3):  # the pointer may move between the two reads
            version = self.current_version(tenant)
            if version is None:
                return None
            image: Any = self._r.get(self._keys.kb_index(tenant, version))
            if image is not None:
                return version, bytes(image)
        raise KnowledgeError(f"tenant {tenant!r}: its help centre changed while being read")

    @contextmanager
    def locked(self, tenant: str) -> Iterator[ImportLock]:
        token = uuid.uuid4().hex
        key = self._keys.kb_lock(tenant)
        if not self._r.set(key, token, nx=True, px=LOCK_LEASE_MS):
            left_ms = self._r.pttl(key)
            raise KnowledgeError(
                f"tenant {tenant!r}: another import is running (its lease ends in "
                f"{max(int(left_ms), 0) / 1000:.0f} s)"  # type: ignore[arg-type]
            )
        lock = ImportLock(self, tenant, token)
        try:
            yield lock
        finally:
            self._lock_op(lock, "release")

    def _lock_op(self, lock: ImportLock, op: str) -> bool:
        done = self._lock(
            keys=[self._keys.kb_lock(lock.tenant)], args=[lock.token, op, LOCK_LEASE_MS]
        )
        return int(done) == 1  # type: ignore[arg-type]

    def stage(self, lock: ImportLock, version: str, image: bytes) -> None:
        """Write an image that nobody reads yet; it expires unless published."""
        lock.renew()
        self._r.set(self._keys.kb_index(lock.tenant, version), image, ex=STAGING_TTL_S)

    def publish(self, lock: ImportLock, version: str) -> None:
        k = self._keys
        tenant = lock.tenant
        done = self._publish(
            keys=[
                k.kb_current(tenant),
                k.kb_index(tenant, version),
                k.kb_lock(tenant),
                k.kb_tenants,
            ],
            args=[version, lock.token, k.kb_index(tenant, ""), REPLACED_GRACE_S, tenant],
        )
        if int(done) == -1:  # type: ignore[arg-type]
            raise KnowledgeError(f"tenant {tenant!r}: import lock lost before publishing")
        if int(done) == -2:  # type: ignore[arg-type]
            raise KnowledgeError(f"tenant {tenant!r}: the new index expired before publishing")


def new_version() -> str:
    return uuid.uuid4().hex[:16]


def _decodes(client: redis.Redis) -> bool:
    return bool(client.connection_pool.connection_kwargs.get("decode_responses"))
