"""Idle consumers wake when a ticket is enqueued, instead of at their next poll.

dramatiq's Redis consumer polls: after each empty fetch it sleeps longer, up to the worker's
idle timeout (200 ms here), so a ticket that arrives at an idle worker waits for the next
poll, 100 ms on average. The intake's script publishes the queue's name on one channel
(`Keys.queue_wake`) when it queues a message; each worker process listens on one thread and
wakes that queue's consumer, whose empty fetches now wait on the wake-up (with the same
backoff as their bound) instead of sleeping through it. With every worker thread busy it
fetches nothing; it looks for room again within 50 ms (a loop in Python, no Redis call),
where dramatiq's backoff would leave threads that finished idle for up to its idle timeout.

A wake-up is only a hint. Nothing is stored; a consumer that misses one (the listener was
reconnecting, the message came through dramatiq's own enqueue: a release of parked tickets,
a retry) still fetches at its next poll, as before.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import redis
from dramatiq.common import q_name

from shared.keys import Keys

log = logging.getLogger("paceline.worker")

# The first waits after an empty fetch, then doubling up to the idle bound (dramatiq's own).
FIRST_WAIT_MS = 5
# With every worker thread busy, the longest wait before looking for room again.
FULL_WAIT_MAX_MS = 50
RECONNECT_S = 1.0
# How long the listener blocks for a message: also how long `close` may wait for it.
LISTEN_S = 0.25


class QueueWakeups:
    """One listener per process: an event per queue, set when the intake names that queue."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._channel = keys.queue_wake()
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pubsub: Any = None
        self._thread = threading.Thread(target=self._listen, name="queue-wake", daemon=True)
        self._thread.start()

    def event(self, queue_name: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(queue_name, threading.Event())

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                self._pubsub.subscribe(self._channel)
                while not self._stop.is_set():
                    got = self._pubsub.get_message(timeout=LISTEN_S)
                    if got is not None:
                        event = self._events.get(str(got["data"]))
                        if event is not None:
                            event.set()
            except (redis.RedisError, OSError, ValueError) as exc:
                if self._stop.is_set():
                    return
                # Consumers fall back to polling meanwhile: nothing waits on this.
                log.warning("queue wake-ups paused: %s", type(exc).__name__)
                self._stop.wait(RECONNECT_S)
            finally:
                self._close_pubsub()

    def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except (redis.RedisError, OSError):
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wrap(self, queue_name: str, consumer: Any, idle_ms: int) -> Any:
        """The consumer, waking on this queue's event (a delay queue's is left as it is)."""
        if q_name(queue_name) != queue_name or not hasattr(consumer, "timeout"):
            return consumer
        return WakingConsumer(consumer, self.event(queue_name), idle_ms)


class WakingConsumer:
    """dramatiq's Redis consumer with its idle sleep replaced by a wait on the wake-up."""

    def __init__(self, inner: Any, wake: threading.Event, idle_ms: int) -> None:
        self._inner = inner
        self._wake = wake
        self._idle_ms = max(idle_ms, FIRST_WAIT_MS)
        self._misses = 0
        # Its own sleep after an empty fetch: at most a millisecond (dramatiq keeps half to
        # all of the bound), the waiting is done here instead.
        inner.timeout = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __iter__(self) -> WakingConsumer:
        return self

    def __next__(self) -> Any:
        self._wake.clear()  # a wake-up from now on is for a message this fetch may not see
        message = next(self._inner)
        if message is not None:
            self._misses = 0
            return message
        inner = self._inner
        # Every thread busy: no fetch can happen and new tickets cannot change that. It looks
        # for room with the same backoff, but never waits longer than FULL_WAIT_MAX_MS: a
        # thread that finished meanwhile waits at most that long for its next ticket (the
        # idle bound, 200 ms, is a fifth of a three-call ticket at 300 ms a call), and threads
        # that finish close together are still refilled by one fetch and one admission round
        # trip (polling every few ms would fetch and admit them one by one).
        full = inner.outstanding_message_count >= inner.prefetch
        wait_ms = min(FIRST_WAIT_MS * 2**self._misses, FULL_WAIT_MAX_MS if full else self._idle_ms)
        self._misses = min(self._misses + 1, 16)
        wait_s = random.uniform(wait_ms / 2, wait_ms) / 1000
        if full:
            time.sleep(wait_s)
        else:
            self._wake.wait(wait_s)
        return None
