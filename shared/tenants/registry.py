"""The tenants a running process uses, re-read when the file changes (no restart).

A look-up costs a dict read: the file is looked at (one `stat`) at most once every
`check_interval_s` of the monotonic clock, and read, hashed and validated only when its mtime
or size moved; an unchanged hash keeps the loaded tenants. A new file that fails validation
(bad TOML, a missing variable, an unpriced model) keeps the last good tenants and logs one
line, once per bad version: a typo while editing must not stop answering.

`profile_for(tenant)` reads the registry the process installed at start (`install`), so code
far from the worker's context (the conversations engine's reply limit) needs no plumbing.
Without one installed it answers the defaults.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from shared.errors import SettingsError
from shared.pricing import PriceTable
from shared.tenants.load import Tenants, read_tenants_bytes, resolve_tenants
from shared.tenants.model import DEFAULT_PROFILE, Tenant

log = logging.getLogger("paceline.tenants")

# Well inside the promise that a change reaches running workers within 30 s.
CHECK_INTERVAL_S = 10.0


class TenantRegistry:
    def __init__(
        self,
        tenants: Tenants,
        path: Path | None = None,
        *,
        prices: PriceTable | None = None,
        environ: Mapping[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        check_interval_s: float = CHECK_INTERVAL_S,
        allow_private: bool = False,
    ) -> None:
        """`allow_private`: PACELINE_ALLOW_PRIVATE_NETWORKS, for a reloaded file's connectors."""
        self._allow_private = allow_private
        self._tenants = tenants
        self._path = path
        self._prices = prices
        self._environ = environ
        self._monotonic = monotonic
        self._interval_s = check_interval_s
        self._lock = threading.Lock()
        self._next_check = monotonic() + check_interval_s
        self._stamp = self._stat()
        self._digest = ""
        if path is not None:
            try:
                self._digest = self._hash(path.read_bytes())
            except OSError:
                pass
        self._bad_digest = ""
        # Bumped on every reload: callers cache what they derive from a profile by it.
        self.version = 0

    def current(self) -> Tenants:
        if self._path is not None and self._monotonic() >= self._next_check:
            self._maybe_reload()
        return self._tenants

    def profile(self, tenant: str) -> Tenant:
        return self.current().profile(tenant)

    def _maybe_reload(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is looking: use what is loaded
        try:
            self._next_check = self._monotonic() + self._interval_s
            stamp = self._stat()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            assert self._path is not None
            try:
                raw = self._path.read_bytes()
            except OSError as exc:
                log.warning("tenants file not reloaded: cannot read it (%s)", exc.strerror)
                return
            digest = self._hash(raw)
            if digest in (self._digest, self._bad_digest):
                return
            try:
                tenants = resolve_tenants(
                    read_tenants_bytes(raw),
                    self._environ,
                    self._prices,
                    allow_private=self._allow_private,
                )
            except SettingsError as exc:
                self._bad_digest = digest
                log.warning("tenants file not reloaded, keeping the last good one: %s", exc)
                return
            self._tenants, self._digest, self._bad_digest = tenants, digest, ""
            self.version += 1
            log.info("tenants file reloaded", extra={"tenants": len(tenants.names)})
        finally:
            self._lock.release()

    def _stat(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    @staticmethod
    def _hash(raw: bytes) -> str:
        return hashlib.sha256(raw).hexdigest()


_installed: list[TenantRegistry] = []


def install(registry: TenantRegistry) -> None:
    """Make `registry` the one `profile_for` reads (a worker does this at start)."""
    _installed[:] = [registry]


def profile_for(tenant: str) -> Tenant:
    """The tenant's profile as this process last loaded it (defaults when none is loaded)."""
    return _installed[0].profile(tenant) if _installed else DEFAULT_PROFILE
