"""The scheduler closes resolution windows on its clock: in bulk, once, only for the leader."""

from __future__ import annotations

import redis

from shared.conversation import hooks
from shared.keys import Keys
from tests.conftest import make_settings
from tests.workers.scheduler.helpers import clock_at, scheduler
from workers.scheduler import scheduler as scheduler_module


def test_a_tick_resolves_every_window_due_and_only_once(namespace: str, r: redis.Redis) -> None:
    settings = make_settings(namespace, resolution_window_h=2)
    clock = clock_at(settings, 9)
    keys = Keys(namespace)
    sched, _ = scheduler(settings, clock, r)
    standby, _ = scheduler(settings, clock, r, instance_id="standby")
    at_ms = int(clock.now_s() * 1000)
    # Given more answered tickets than one batch of the window script looks at
    n = scheduler_module.CLOSE_BATCH + 30
    for i in range(n):
        hooks.on_agent_answered(r, keys, "acme", "generic", f"T-{i}", at_ms, 0)
    hooks.on_agent_answered(r, keys, "acme", "generic", "later", at_ms + 60_000, 0)
    # When the window has not closed: nothing
    clock.advance(2 * 3600 - 1)
    assert sched.tick().resolved == 0
    # When it has: every due ticket in one tick, the later one left in its window
    clock.advance(1)
    assert sched.tick().resolved == n
    assert sched.resolutions.awaiting() == 1
    # A standby never closes anything; a second tick finds nothing more
    assert standby.tick().leader is False
    assert sched.tick().resolved == 0
    clock.advance(60)
    assert sched.tick().resolved == 1
