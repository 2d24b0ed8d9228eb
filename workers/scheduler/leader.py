"""One scheduler leads at a time: a Redis lease with a fencing token.

`SET <ns>:scheduler:leader "<instance>:<token>" NX PX lease_ms` takes the lease; each tick the
holder extends it with a compare-and-extend script, so a leader that stalled past its lease
and lost it to a standby can never extend (or delete) the new leader's lease. The token comes
from `INCR <ns>:scheduler:fence`, so it grows with every change of leader: logs and records
written by a leader carry it, and a stale leader's writes are recognisable.

The lease lives in Redis time (PX), not the injected clock: it guards real processes.
"""

from __future__ import annotations

import uuid
from typing import cast

import redis

from shared.keys import Keys
from shared.lua import lua_source

DEFAULT_LEASE_MS = 5_000


class LeaderLease:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        lease_ms: int = DEFAULT_LEASE_MS,
        instance_id: str | None = None,
    ) -> None:
        self._r = client
        self._keys = keys
        self.lease_ms = lease_ms
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self.token: int | None = None
        self._extend = client.register_script(lua_source("workers.scheduler", "leader_extend"))
        self._release = client.register_script(lua_source("workers.scheduler", "leader_release"))

    @property
    def _value(self) -> str:
        return f"{self.instance_id}:{self.token}"

    @property
    def is_leader(self) -> bool:
        return self.token is not None

    def hold(self) -> bool:
        """Keep the lease if we have it, take it if it is free; True while we lead."""
        key = self._keys.scheduler_leader
        if self.token is not None:
            if int(self._extend(keys=[key], args=[self._value, self.lease_ms])) == 1:
                return True
            self.token = None  # lost it (we stalled past the lease); a standby leads now
        if self._r.exists(key):
            return False
        token = int(self._r.incr(self._keys.scheduler_fence))
        value = f"{self.instance_id}:{token}"
        if self._r.set(key, value, nx=True, px=self.lease_ms):
            self.token = token
            return True
        return False

    def release(self) -> None:
        """Give the lease up at a clean stop, so a standby takes over at once."""
        if self.token is not None:
            self._release(keys=[self._keys.scheduler_leader], args=[self._value])
            self.token = None

    def current(self) -> str | None:
        return cast(str | None, self._r.get(self._keys.scheduler_leader))
