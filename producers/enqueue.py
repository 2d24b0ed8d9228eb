"""The enqueue API every producer uses: dedupe, record `pending`, put the ticket on its lane.

Order matters for "nothing is lost": the dedupe claim is taken first (so five concurrent
deliveries make one job), the `pending` outcome is recorded, then the message is sent; if the
send fails the claim is given back so the vendor's retry is not mistaken for a duplicate.

When the broker is a Redis broker on the same Redis (the default), all three happen in one
Lua script (`intake.lua`): one round trip, and no crash window between claim and queue. The
general path below serves RabbitMQ. The fast path writes dramatiq's queue layout directly, so
dramatiq's enqueue middleware hooks do not run for it (paceline's middleware has none).

A live event is also one step of a conversation (shared/stores/threads.py): paceline's own
replies coming back are acknowledged and dropped before anything is written; every other
event is added to its ticket's thread in the same script, and only a customer's message on a
ticket no person owns is queued to be answered. The rest are recorded (`Submitted.handled`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import dramatiq
import redis

from shared.broker import queue_prefix
from shared.clock import Clock, now_ms
from shared.conversation import hooks
from shared.conversation.own import own_event_reason
from shared.errors import DeliveryInFlight
from shared.keys import TICKET_RETENTION_S, Keys, delivery_key
from shared.lua import lua_source
from shared.messages import ticket_message
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.settings import Settings
from shared.stores import threads
from shared.stores.demand import DEMAND_TTL_S, DemandStore
from shared.stores.outcomes import OutcomeStore, ticket_ttl_s

log = logging.getLogger(__name__)
# How long a claim lives before its message is confirmed on the queue.
CLAIM_TTL_S = 60
CLAIMING = "claim:"


def shares_redis(broker: dramatiq.Broker, client: redis.Redis) -> bool:
    """True when `broker` is a Redis broker on the same server and database as `client`."""
    from dramatiq.brokers.redis import RedisBroker

    if not isinstance(broker, RedisBroker):
        return False
    ours = client.connection_pool.connection_kwargs
    theirs = broker.client.connection_pool.connection_kwargs
    return all(ours.get(k) == theirs.get(k) for k in ("host", "port", "db", "path"))


def build_intake(
    settings: Settings, broker: dramatiq.Broker, client: redis.Redis, clock: Clock
) -> Intake:
    """The intake every producer uses, its queue names asked of the broker kind in one place
    (RabbitMQ queues carry the namespace: shared.broker.queue_prefix)."""
    return Intake(
        broker=broker,
        client=client,
        keys=Keys(settings.namespace),
        clock=clock,
        dedupe_window_s=settings.dedupe_window_s,
        outcome_retention_s=settings.outcome_retention_s,
        queue_prefix=queue_prefix(settings),
        tz=settings.tz,
        thread_max_messages=settings.thread_max_messages,
        own_authors=settings.own_authors(),
    )


# What became of an event that was not queued (`Submitted.handled`).
DROPPED = "dropped"  # paceline's own reply coming back: acknowledged, nothing written
RECORDED = "recorded"  # in the thread: a human's reply, another bot's, a status change
HUMAN_OWNED = "human_owned"  # a customer message on a ticket a person owns: recorded


@dataclass(frozen=True)
class Submitted:
    job_id: str
    duplicate: bool
    handled: str | None = None
    # The event opened its ticket's thread (a conversation's first message).
    opened: bool = False


class Intake:
    def __init__(
        self,
        *,
        broker: dramatiq.Broker,
        client: redis.Redis,
        keys: Keys,
        clock: Clock,
        dedupe_window_s: int,
        outcome_retention_s: int = TICKET_RETENTION_S,
        queue_prefix: str | None = None,
        direct_redis: bool | None = None,
        tz: ZoneInfo | None = None,
        thread_max_messages: int = 20,
        own_authors: frozenset[tuple[str, str]] = frozenset({("generic", "paceline")}),
    ) -> None:
        self._broker = broker
        self._r = client
        self._keys = keys
        self._clock = clock
        self._window_s = dedupe_window_s
        self._ticket_ttl_s = ticket_ttl_s(outcome_retention_s)
        self._outcomes = OutcomeStore(client, keys, outcome_retention_s)
        # Live arrivals by hour of the budget day (PACELINE_TIMEZONE): the forecast's input.
        self._demand = DemandStore(client, keys, tz or ZoneInfo("UTC"))
        self._queue_prefix = queue_prefix
        self._thread_max = thread_max_messages
        self._own_authors = own_authors
        self._converse = client.register_script(
            lua_source("shared.stores", "converse", "converse_general")
        )
        if direct_redis is None:
            direct_redis = shares_redis(broker, client)
        self._direct = direct_redis and queue_prefix is None
        if self._direct:
            source = resources.files("producers").joinpath("intake.lua").read_text()
            prelude = lua_source("shared.stores", "converse")
            self._intake = client.register_script(prelude + "\n" + source)

    def submit(
        self,
        ticket: Ticket,
        lane: Lane = Lane.LIVE,
        *,
        delivery_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> Submitted:
        """Enqueue `ticket` once per delivery id (default: its event id) of its tenant and
        source. The job id is returned only once the message is on the queue: the Redis fast
        path writes it in the same script, a RabbitMQ publish waits for the broker's confirm."""
        # Only the live lane holds conversations; a replay or redrive is a one-shot ticket.
        kind = ""
        if lane is Lane.LIVE:
            if own_event_reason(ticket, self._own_authors) is not None:
                return Submitted(job_id="", duplicate=False, handled=DROPPED)
            kind = threads.kind_of(ticket)
        delivered = delivery_key(ticket.tenant_id, ticket.source, delivery_id or ticket.event_id)
        dedupe_key = self._keys.dedupe(delivered)
        queue = f"{self._queue_prefix}.{lane.queue_name}" if self._queue_prefix else None
        message = ticket_message(
            ticket, lane, queue_name=queue, at_ms=now_ms(self._clock), **(options or {})
        )
        if self._direct:
            submitted = self._submit_direct(ticket, lane, dedupe_key, message, kind)
        else:
            submitted = self._submit_general(ticket, lane, dedupe_key, message, kind)
        if kind and not submitted.duplicate:
            self._call_hooks(ticket, kind, submitted.opened)
        return submitted

    def _call_hooks(self, ticket: Ticket, kind: str, opened: bool) -> None:
        at = now_ms(self._clock)
        args = (self._r, self._keys, ticket.tenant_id, ticket.source, ticket.ticket_id)
        if kind == threads.CUSTOMER and not opened:
            hooks.on_customer_message(*args, ticket.body, at)
        elif kind == threads.HUMAN:
            hooks.on_human_reply(*args, at)
        elif kind in (threads.SOLVED, threads.CLOSED):
            by_human = self._r.hget(self._keys.ticket(ticket.key), "human_replied") is not None
            hooks.on_solved(*args, at, by_human)

    def _submit_general(
        self,
        ticket: Ticket,
        lane: Lane,
        dedupe_key: str,
        message: dramatiq.Message[Any],
        kind: str,
    ) -> Submitted:
        # The claim starts short and is stretched to the full window only once the message is
        # on the queue: a process or Redis dying in between leaves a claim that expires in
        # seconds, not one that turns the vendor's retry into a "duplicate" for a week.
        # Until the broker confirms, the claim reads "claim:<job>": a repeat that finds it is
        # told to come back (DeliveryInFlight -> 503), never "duplicate", because the first
        # attempt may still die before its message is queued.
        claimed = self._r.set(
            dedupe_key, CLAIMING + message.message_id, nx=True, ex=min(CLAIM_TTL_S, self._window_s)
        )
        if not claimed:
            first = str(self._r.get(dedupe_key) or "")
            if first.startswith(CLAIMING):
                raise DeliveryInFlight("this delivery is being enqueued; retry shortly")
            return Submitted(job_id=first, duplicate=True)
        handled: str | None = None
        opened = False
        try:
            at_ms = now_ms(self._clock)
            pending = Outcome.for_ticket(
                ticket,
                lane,
                OutcomeStatus.PENDING,
                job_id=message.message_id,
                enqueued_at_ms=at_ms,
                updated_at_ms=at_ms,
            )
            if kind:
                handled, opened = self._converse_general(ticket, kind, pending, at_ms)
            else:
                self._outcomes.mark_pending(pending)
            if handled is None:
                self._broker.enqueue(message)
        except BaseException:
            self._r.delete(dedupe_key)
            raise
        try:
            pipe = self._r.pipeline(transaction=False)
            pipe.set(dedupe_key, message.message_id, ex=self._window_s)
            if lane is Lane.LIVE and handled is None:
                self._demand.count_arrivals(self._clock.now_s(), pipe=pipe)
            pipe.execute()
        except redis.RedisError:
            # The message is queued; a later duplicate is still caught by the outcome store.
            log.warning("dedupe claim not extended; it expires in %ss", CLAIM_TTL_S)
        return Submitted(job_id=message.message_id, duplicate=False, handled=handled, opened=opened)

    def _converse_general(
        self, ticket: Ticket, kind: str, pending: Outcome, at_ms: int
    ) -> tuple[str | None, bool]:
        """The conversation step on its own (the broker is not this Redis): (what became of
        the event, None to answer it; whether it opened the thread)."""
        k = self._keys
        decided = self._converse(
            keys=[k.ticket(ticket.key), k.outcomes_index, k.outcomes_counts, k.thread(ticket.key)],
            args=[
                kind,
                ticket.event_id,
                threads.message_entry(ticket, at_ms),
                pending.model_dump_json(),
                at_ms,
                ticket.key,
                self._ticket_ttl_s,
                self._thread_max,
            ],
        )
        what, opened = decided
        what = what.decode() if isinstance(what, bytes) else str(what)
        return {"recorded": RECORDED, "human_owned": HUMAN_OWNED}.get(what), int(opened) == 1

    def _submit_direct(
        self,
        ticket: Ticket,
        lane: Lane,
        dedupe_key: str,
        message: dramatiq.Message[Any],
        kind: str,
    ) -> Submitted:
        at_ms = now_ms(self._clock)
        outcome = Outcome.for_ticket(
            ticket,
            lane,
            OutcomeStatus.PENDING,
            job_id=message.message_id,
            enqueued_at_ms=at_ms,
            updated_at_ms=at_ms,
        )
        redis_id = str(uuid.uuid4())
        queued = message.copy(options={"redis_message_id": redis_id})
        k = self._keys
        dq = k.dramatiq_queue(message.queue_name)
        arrivals, hour = self._demand.arrival_field(at_ms / 1000)
        entry = threads.message_entry(ticket, at_ms) if kind else ""
        reply = self._intake(
            keys=[
                dedupe_key,
                k.ticket(ticket.key),
                k.outcomes_index,
                k.outcomes_counts,
                dq,
                dq + ".msgs",
                arrivals,
                k.thread(ticket.key),
            ],
            args=[
                message.message_id,
                self._window_s,
                ticket.event_id,
                outcome.model_dump_json(),
                at_ms,
                ticket.key,
                self._ticket_ttl_s,
                redis_id,
                queued.encode(),
                hour if lane is Lane.LIVE and kind == threads.CUSTOMER else "",
                DEMAND_TTL_S,
                kind,
                entry,
                self._thread_max,
                k.queue_wake(),
                message.queue_name,
            ],
        )
        code, job_id = int(reply[0]), reply[1]
        if code == -1:
            raise DeliveryInFlight("this delivery is being enqueued; retry shortly")
        handled = {2: RECORDED, 3: HUMAN_OWNED}.get(code)
        opened = len(reply) > 2 and int(reply[2]) == 1
        return Submitted(job_id=str(job_id), duplicate=code == 0, handled=handled, opened=opened)
