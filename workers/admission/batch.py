"""Admitting a fetched batch of tickets in one round trip, on the consumer thread.

dramatiq's Redis consumer fetches up to `prefetch` messages in one script call and hands
them to the worker threads one by one. Admitting each on its worker thread costs a Redis
round trip per ticket, and on a small machine a round trip is dear: the thread blocks, the
GIL changes hands twice, Redis wakes for one command (docs/design.md has the figures). Here
the consumer admits what one fetch returned in one round trip and leaves each message's
decision on it (`leave_prepared`); the worker thread then only carries it out, so
dramatiq's rules hold (a park or a refusal is a `SkipMessage` raised in
`before_process_message`).

What this changes for a ticket: its reservation opens when it is fetched, not when a worker
thread takes it, which is at most one message's run earlier (the worker prefetches what its
threads can run). A message that then does not run here (requeued at shutdown, skipped by
an earlier middleware) has its fresh reservation closed. If the batch's round trip fails,
nothing is decided and each message is admitted on its worker thread as before, where a
failure is a failed attempt (bounded retries), never a silent pass.

Only dramatiq's Redis consumer is wrapped, and only for the live queues (a delay queue's
messages are not run from there): peeking at what a fetch returned uses its
`message_cache` (dramatiq 2.x; like the intake's fast path, tied to that layout).
Any other consumer is returned as it is and admission stays per message.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Protocol

from dramatiq.common import q_name

from shared.messages import is_ticket_actor
from workers.admission.decision import Prepared, leave_prepared

log = logging.getLogger("paceline.admission")


class Admits(Protocol):
    """What the consumer needs of admission (the middleware provides it)."""

    def prepare(self, messages: list[Any]) -> list[Prepared]:
        """Admit these ticket messages in one round trip; raises when it failed."""

    def abandon(self, messages: list[Any]) -> None:
        """Close the fresh reservations of messages that will not run here."""


class AdmittingConsumer:
    """Wraps a dramatiq Redis consumer: iterating admits each fetched batch once."""

    def __init__(self, inner: Any, admission: Admits) -> None:
        self._inner = inner
        self._admission = admission
        self._ready: deque[Any] = deque()

    @classmethod
    def around(cls, queue_name: str, consumer: Any, admission: Admits) -> Any:
        if q_name(queue_name) != queue_name or not isinstance(
            getattr(consumer, "message_cache", None), list
        ):
            return consumer
        return cls(consumer, admission)

    def __iter__(self) -> AdmittingConsumer:
        return self

    def __next__(self) -> Any:
        if self._ready:
            return self._ready.popleft()
        first = next(self._inner)
        if first is None:
            return None
        batch = [first]
        while self._inner.message_cache:  # already fetched: no I/O
            message = next(self._inner)
            if message is not None:
                batch.append(message)
        self._admit(batch)
        self._ready.extend(batch[1:])
        return first

    def _admit(self, batch: list[Any]) -> None:
        tickets = [m for m in batch if is_ticket_actor(m.actor_name)]
        if not tickets:
            return
        try:
            prepared = self._admission.prepare(tickets)
        except Exception as exc:  # each is admitted on its worker thread instead
            log.warning("batch admission failed: %s", type(exc).__name__)
            return
        for message, prep in zip(tickets, prepared, strict=True):
            leave_prepared(message, prep)

    def requeue(self, messages: Any) -> None:
        messages = list(messages)
        self._admission.abandon(messages)
        self._inner.requeue(messages)

    def close(self) -> None:
        """Messages fetched but never handed to a worker thread go back to the queue now
        (dramatiq would leave them to the heartbeat timeout), their reservations closed."""
        ready, self._ready = list(self._ready), deque()
        try:
            if ready:
                self.requeue(ready)
        finally:
            self._inner.close()

    def ack(self, message: Any) -> None:
        self._inner.ack(message)

    def nack(self, message: Any) -> None:
        self._inner.nack(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
