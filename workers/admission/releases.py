"""Closing reservations an actor left open, without a round trip of their own.

The admission middleware owns a reservation's lifecycle: it opens one before the actor runs
and, when the actor returned without closing it (a no-op actor, or a path that forgot),
closes it after instead of leaving the money held until the lease runs out. That close
rides in the worker's next admission round trip, inside its admit script, which closes
it before deciding so the money is back for the decision, or goes out on its own within
`hold_s` when no admission comes.
Stopping the worker sends what is left; a worker killed meanwhile leaves the reservation to
its lease, as a crash mid-ticket does.
"""

from __future__ import annotations

import logging
import threading

from shared.ledger import Ledger

log = logging.getLogger("paceline.worker")

HOLD_S = 0.02
# The timer thread ends after this many empty ticks (an idle worker wakes nobody).
IDLE_TICKS = 50


class PendingReleases:
    def __init__(self, ledger: Ledger, hold_s: float = HOLD_S) -> None:
        self._ledger = ledger
        self._hold_s = hold_s
        self._lock = threading.Lock()
        self._rids: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, reservation_id: str) -> None:
        with self._lock:
            self._rids.append(reservation_id)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="paceline-releases", daemon=True
                )
                self._thread.start()

    def take(self) -> list[str]:
        """Everything pending, for the caller to send (the admission round trip)."""
        with self._lock:
            rids, self._rids = self._rids, []
        return rids

    def put_back(self, reservation_ids: list[str]) -> None:
        """Releases a failed round trip may not have sent (closing twice is harmless)."""
        with self._lock:
            self._rids[:0] = reservation_ids

    def flush(self) -> int:
        rids = self.take()
        if rids:
            try:
                self._ledger.release_many(rids)
            except Exception:
                self.put_back(rids)
                raise
        return len(rids)

    def _run(self) -> None:
        idle = 0
        while not self._stop.wait(self._hold_s):
            try:
                idle = 0 if self.flush() else idle + 1
            except Exception as exc:  # Redis away: kept, tried again next tick; leases remain
                log.warning("closing reservations failed: %s", type(exc).__name__)
            if idle >= IDLE_TICKS:
                with self._lock:  # quiet for a while: stop; the next add() starts a new one
                    if not self._rids:
                        self._thread = None
                        return

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
