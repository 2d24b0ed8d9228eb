"""Two schedulers: one leads; when it dies mid-day the standby carries on; nothing is lost
or released twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import redis

from shared.keys import Keys
from shared.models import Lane
from shared.stores.parking import ParkingLot
from tests.conftest import REDIS_URL, ROOT, make_settings
from tests.helpers import wait_for
from tests.workers.scheduler.helpers import clock_at, message, scheduler

LEASE_MS = 300


def test_standby_takes_over_when_the_leader_dies(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given 300 parked tickets due over the day and two schedulers on one clock
    settings = make_settings(namespace, pacing="off")
    clock = clock_at(settings, 8)
    a, got_a = scheduler(settings, clock, r, lease_ms=LEASE_MS, max_release_per_tick=20)
    b, got_b = scheduler(settings, clock, r, lease_ms=LEASE_MS, max_release_per_tick=20)
    lot = ParkingLot(r, keys)
    start_ms = int(clock.now_s() * 1000)
    parked = [message(i, Lane.LIVE).message_id for i in range(300)]
    for i, mid in enumerate(parked):
        msg = message(i, Lane.LIVE)
        lot.park(msg.copy(message_id=mid), Lane.LIVE, start_ms + i * 60_000, "pace")
    # When both tick, a leads and b stands by
    assert a.tick().leader and not b.tick().leader
    for _ in range(5):
        clock.advance(600)
        assert a.tick().leader and not b.tick().released
    assert got_a.ids and not got_b.ids
    # And a dies without a word (no more ticks, lease not given up)
    deadline = time.monotonic() + 5
    while not b.tick().leader:
        assert time.monotonic() < deadline, "standby never took over"
        time.sleep(0.05)
    # Then b leads with a newer fencing token and carries on to the end of the day
    assert b.lease.token is not None and a.lease.token is not None and b.lease.token > a.lease.token
    for _ in range(40):
        clock.advance(1800)
        b.tick()
    # And every parked ticket was released exactly once
    released = Counter(got_a.ids + got_b.ids)
    assert set(released) == set(parked)
    assert max(released.values()) == 1
    assert lot.size() == 0
    # And the old leader, back from the dead, cannot lead while b holds the lease
    assert not a.tick().leader


def test_clean_stop_gives_up_the_lease(namespace: str, r: redis.Redis, keys: Keys) -> None:
    settings = make_settings(namespace)
    clock = clock_at(settings, 8)
    a, _ = scheduler(settings, clock, r, lease_ms=60_000)
    b, _ = scheduler(settings, clock, r, lease_ms=60_000)
    assert a.tick().leader and not b.tick().leader
    a.close()
    assert b.tick().leader  # at once, not after the 60 s lease


def _start(namespace: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}
    cmd = [
        sys.executable,
        "-m",
        "shared.cli.main",
        "scheduler",
        "--interval-s",
        "0.05",
        "--lease-ms",
        "600",
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def test_two_processes_leader_killed(namespace: str, r: redis.Redis, keys: Keys) -> None:
    # Given a `paceline scheduler` that leads, and a second one started after it
    first = _start(namespace)
    procs = [first]
    try:
        assert wait_for(lambda: r.get(keys.scheduler_leader) is not None, timeout_s=20)
        leader = r.get(keys.scheduler_leader)
        second = _start(namespace)
        procs.append(second)
        time.sleep(1.0)
        assert r.get(keys.scheduler_leader) == leader  # the standby waits its turn
        # When the leader is killed with SIGKILL (no chance to give up its lease)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=5)
        # Then the standby leads within a few seconds, with a newer fencing token
        assert wait_for(lambda: r.get(keys.scheduler_leader) not in (None, leader), timeout_s=5)
        new = r.get(keys.scheduler_leader)
        assert new is not None and leader is not None
        assert int(new.rsplit(":", 1)[1]) > int(leader.rsplit(":", 1)[1])
        # And SIGTERM stops it cleanly, giving the lease up
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0
        assert r.get(keys.scheduler_leader) is None
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            if p.stderr:
                p.stderr.close()
