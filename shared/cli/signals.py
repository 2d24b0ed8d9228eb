"""Ctrl-C and SIGTERM set one event; long-running commands wait on it and stop cleanly."""

from __future__ import annotations

import signal
import threading


def stop_event() -> threading.Event:
    event = threading.Event()

    def _handler(signum: int, frame: object) -> None:
        event.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return event
