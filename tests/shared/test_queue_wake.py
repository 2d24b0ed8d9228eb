"""Idle consumers wake when the intake queues a ticket, instead of at their next poll."""

from __future__ import annotations

import threading
import time

import redis

from producers.enqueue import build_intake
from shared.broker import build_broker
from shared.clock import SystemClock
from shared.keys import Keys
from shared.models import Lane, Ticket
from shared.queue_wake import QueueWakeups, WakingConsumer
from shared.settings import Settings
from tests.helpers import generic_ticket

LIVE = Lane.LIVE.queue_name


def test_the_intake_wakes_the_queue_it_wrote_to(settings: Settings, r: redis.Redis) -> None:
    wakeups = QueueWakeups(r, Keys(settings.namespace))
    broker = build_broker(settings)
    try:
        live, replay = wakeups.event(LIVE), wakeups.event(Lane.REPLAY.queue_name)
        intake = build_intake(settings, broker, r, SystemClock())
        # Given the listener is subscribed (a wake-up before that is missed, by design)
        deadline = time.monotonic() + 10
        while not live.is_set() and time.monotonic() < deadline:
            intake.submit(Ticket.model_validate(generic_ticket(f"w{time.monotonic_ns()}")))
            live.wait(0.2)
        # Then a live ticket woke the live queue's consumers, and only theirs
        assert live.is_set()
        assert not replay.is_set()
    finally:
        wakeups.close()
        broker.close()


def test_a_consumer_waiting_out_its_idle_time_takes_the_ticket_when_woken(
    settings: Settings, r: redis.Redis
) -> None:
    wakeups = QueueWakeups(r, Keys(settings.namespace))
    broker = build_broker(settings)
    broker.declare_queue(LIVE)
    consumer = wakeups.wrap(LIVE, broker.consume(LIVE, prefetch=4, timeout=60_000), 60_000)
    try:
        assert isinstance(consumer, WakingConsumer)
        assert consumer.message_cache == []  # dramatiq's own attributes show through
        # Given a consumer long idle (its next wait is the full minute)
        consumer._misses = 16
        intake = build_intake(settings, broker, r, SystemClock())

        def arrive() -> None:
            for n in range(50):  # until the listener has subscribed
                intake.submit(Ticket.model_validate(generic_ticket(f"late-{n}")))
                if wakeups.event(LIVE).wait(0.2):
                    return

        started = time.monotonic()
        threading.Thread(target=arrive, daemon=True).start()
        # When a ticket arrives, the empty fetch's wait ends and the next fetch finds it
        message = None
        while message is None and time.monotonic() - started < 50:
            message = next(consumer)
        assert message is not None and message.args[0]["event_id"].startswith("evt-late-")
        assert time.monotonic() - started < 50  # well inside the minute it would have slept
        consumer.ack(message)
    finally:
        consumer.close()
        wakeups.close()
        broker.close()


def test_a_delay_queue_is_left_to_poll(settings: Settings, r: redis.Redis) -> None:
    wakeups = QueueWakeups(r, Keys(settings.namespace))
    broker = build_broker(settings)
    try:
        inner = broker.consume(f"{LIVE}.DQ", prefetch=1, timeout=100)
        assert wakeups.wrap(f"{LIVE}.DQ", inner, 200) is inner
    finally:
        inner.close()
        wakeups.close()
        broker.close()


def test_a_full_consumer_fetches_again_soon_after_a_thread_acks(
    settings: Settings, r: redis.Redis
) -> None:
    wakeups = QueueWakeups(r, Keys(settings.namespace))
    broker = build_broker(settings)
    broker.declare_queue(LIVE)
    consumer = wakeups.wrap(LIVE, broker.consume(LIVE, prefetch=1, timeout=60_000), 60_000)
    try:
        intake = build_intake(settings, broker, r, SystemClock())
        for n in range(2):
            intake.submit(Ticket.model_validate(generic_ticket(f"full-{n}")))
        first = None
        while first is None:
            first = next(consumer)
        # Given its one thread busy with the first ticket and its waits grown to a minute
        consumer._misses = 16
        threading.Timer(0.2, consumer.ack, args=(first,)).start()
        started = time.monotonic()
        # When the thread acks, the consumer fetches the second without waiting out its backoff
        second = None
        while second is None and time.monotonic() - started < 50:
            second = next(consumer)
        assert second is not None and second.args[0]["event_id"] == "evt-full-1"
        assert time.monotonic() - started < 50
        consumer.ack(second)
    finally:
        consumer.close()
        wakeups.close()
        broker.close()
