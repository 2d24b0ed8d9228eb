"""The Redis fast path puts parked tickets where dramatiq's own consumer finds them, once."""

from __future__ import annotations

import json
import threading
from collections import Counter

import redis

from shared.broker import build_broker
from shared.keys import Keys
from shared.models import Lane
from shared.stores.parking import ParkingLot
from tests.conftest import make_settings
from tests.workers.scheduler.helpers import clock_at, message
from workers.scheduler import Scheduler


def test_released_messages_are_consumed_by_dramatiq(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given parked live and replay tickets and a scheduler on the Redis broker (no enqueue hook)
    settings = make_settings(namespace, pacing="off")
    clock = clock_at(settings, 8)
    lot = ParkingLot(r, keys)
    now_ms = int(clock.now_s() * 1000)
    live = [message(f"l{i}") for i in range(5)]
    replay = [message(f"r{i}", Lane.REPLAY) for i in range(3)]
    for m in live:
        lot.park(m, Lane.LIVE, now_ms, "pace")
    for m in replay:
        lot.park(m, Lane.REPLAY, now_ms, "pace")
    sched = Scheduler(settings, clock=clock, client=r)
    # When it ticks
    assert sched.tick().released == {"live": 5, "replay": 3}
    sched.close()
    # Then dramatiq's consumer reads every one from its lane's queue, intact
    broker = build_broker(settings)
    try:
        for lane, sent in ((Lane.LIVE, live), (Lane.REPLAY, replay)):
            broker.declare_queue(lane.queue_name)
            consumer = broker.consume(lane.queue_name, prefetch=10, timeout=200)
            got = []
            for _ in range(len(sent)):
                msg = next(consumer)
                assert msg is not None
                got.append(msg)
                consumer.ack(msg)
            consumer.close()
            by_id = {m.message_id: m for m in sent}
            assert sorted(by_id) == sorted(m.message_id for m in got)
            for m in got:
                assert m.args == by_id[m.message_id].args and m.kwargs == {"lane": lane.value}
    finally:
        broker.close()
    assert lot.size() == 0


def test_concurrent_releases_never_release_a_ticket_twice(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given 2,000 due tickets and four releasers racing (as if two leaders overlapped)
    lot = ParkingLot(r, keys)
    for i in range(2_000):
        lot.park(message(i), Lane.LIVE, 1_000, "pace")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            while lot.release_due_into_redis(10_000, keys.dramatiq_namespace, limit=97):
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # Then the queue holds each ticket exactly once
    queue = f"{keys.dramatiq_namespace}:{Lane.LIVE.queue_name}"
    ids = r.lrange(queue, 0, -1)
    assert len(ids) == 2_000
    msgs = r.hgetall(queue + ".msgs")
    counts = Counter(json.loads(v)["message_id"] for v in msgs.values())
    assert len(counts) == 2_000 and max(counts.values()) == 1
    assert lot.size() == 0
