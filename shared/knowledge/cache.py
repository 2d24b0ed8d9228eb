"""The per-process indexes: one per tenant, loaded from the store, replaced when it changes.

A search looks at the tenant's pointer at most every `refresh_s` (one GET); when it moved,
one thread loads the new image while the others keep answering from the old index, so an
import reaches every running worker within `refresh_s` plus a load, without a restart.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from shared.clock import Clock
from shared.knowledge.index import KnowledgeIndex
from shared.knowledge.store import KnowledgeStore

MAX_TENANTS = 256


@dataclass
class _Entry:
    version: str | None
    index: KnowledgeIndex | None
    checked_s: float
    loading: threading.Lock


class IndexCache:
    def __init__(
        self,
        store: KnowledgeStore,
        clock: Clock,
        refresh_s: float,
        max_tenants: int = MAX_TENANTS,
    ) -> None:
        self.store = store
        self._clock = clock
        self._refresh_s = refresh_s
        self._max = max_tenants
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant: str) -> KnowledgeIndex | None:
        """The tenant's index (None: it has no help centre)."""
        now = self._clock.now_s()
        with self._lock:
            entry = self._entries.get(tenant)
            if entry is None:
                entry = _Entry(None, None, float("-inf"), threading.Lock())
                self._entries[tenant] = entry
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)  # the least recently searched tenant
            self._entries.move_to_end(tenant)
            fresh = now - entry.checked_s < self._refresh_s
        if fresh:
            return entry.index
        # Someone else is loading: answer from what we have, unless we have nothing yet.
        if not entry.loading.acquire(blocking=entry.index is None):
            return entry.index
        try:
            if self._clock.now_s() - entry.checked_s >= self._refresh_s:
                self._refresh(tenant, entry)
        finally:
            entry.loading.release()
        return entry.index

    def _refresh(self, tenant: str, entry: _Entry) -> None:
        version = self.store.current_version(tenant)
        if version != entry.version:
            loaded = self.store.load(tenant) if version is not None else None
            if loaded is None:
                entry.version, entry.index = None, None
            else:
                entry.version, entry.index = loaded[0], KnowledgeIndex.from_image(loaded[1])
        entry.checked_s = self._clock.now_s()

    def forget(self, tenant: str) -> None:
        with self._lock:
            self._entries.pop(tenant, None)
