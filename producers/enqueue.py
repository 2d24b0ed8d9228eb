"""The enqueue API every producer uses: dedupe, record `pending`, put the ticket on its lane.

Order matters for "nothing is lost": the dedupe claim is taken first (so five concurrent
deliveries make one job), the `pending` outcome is recorded, then the message is sent; if the
send fails the claim is given back so the vendor's retry is not mistaken for a duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dramatiq
import redis

from shared.clock import Clock, now_ms
from shared.keys import Keys
from shared.messages import ticket_message
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.outcomes import OutcomeStore

log = logging.getLogger(__name__)
# How long a claim lives before its message is confirmed on the queue.
CLAIM_TTL_S = 60


@dataclass(frozen=True)
class Submitted:
    job_id: str
    duplicate: bool


class Intake:
    def __init__(
        self,
        *,
        broker: dramatiq.Broker,
        client: redis.Redis,
        keys: Keys,
        clock: Clock,
        dedupe_window_s: int,
        queue_prefix: str | None = None,
    ) -> None:
        self._broker = broker
        self._r = client
        self._keys = keys
        self._clock = clock
        self._window_s = dedupe_window_s
        self._outcomes = OutcomeStore(client, keys)
        self._queue_prefix = queue_prefix

    def submit(
        self, ticket: Ticket, lane: Lane = Lane.LIVE, *, delivery_id: str | None = None
    ) -> Submitted:
        """Enqueue `ticket` once per delivery id (default: its source and event id)."""
        dedupe_key = self._keys.dedupe(ticket.source, delivery_id or ticket.event_id)
        queue = f"{self._queue_prefix}.{lane.queue_name}" if self._queue_prefix else None
        message = ticket_message(ticket, lane, queue_name=queue)
        # The claim starts short and is stretched to the full window only once the message is
        # on the queue: a process or Redis dying in between leaves a claim that expires in
        # seconds, not one that turns the vendor's retry into a "duplicate" for a week.
        claimed = self._r.set(
            dedupe_key, message.message_id, nx=True, ex=min(CLAIM_TTL_S, self._window_s)
        )
        if not claimed:
            first = self._r.get(dedupe_key)
            return Submitted(job_id=str(first or ""), duplicate=True)
        try:
            at_ms = now_ms(self._clock)
            self._outcomes.mark_pending(
                Outcome.for_ticket(
                    ticket,
                    lane,
                    OutcomeStatus.PENDING,
                    job_id=message.message_id,
                    enqueued_at_ms=at_ms,
                    updated_at_ms=at_ms,
                )
            )
            self._broker.enqueue(message)
        except BaseException:
            self._r.delete(dedupe_key)
            raise
        try:
            self._r.expire(dedupe_key, self._window_s)
        except redis.RedisError:
            # The message is queued; a later duplicate is still caught by the outcome store.
            log.warning("dedupe claim not extended; it expires in %ss", CLAIM_TTL_S)
        return Submitted(job_id=message.message_id, duplicate=False)
