"""Threshold alerts fire once a day each; a tenant's spend spike pauses it and names it."""

from __future__ import annotations

import time

import redis

from shared.keys import Keys
from tests.conftest import make_settings
from tests.helpers import CallbackReceiver, wait_for
from tests.workers.scheduler.helpers import admit, clock_at, scheduler, spend


def test_each_threshold_fires_once_with_a_webhook(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    with CallbackReceiver() as hook:
        # Given a $10 ceiling, alerts at 50/80/100% and an alert webhook
        settings = make_settings(
            namespace,
            daily_ceiling_usd="10",
            tenant_daily_cap_usd="10",
            user_daily_cap_usd="10",
            alert_webhook_url=hook.url,
        )
        clock = clock_at(settings, 10)
        sched, _ = scheduler(settings, clock, r)
        fired: list[str] = []
        # When spend climbs to the ceiling, with ticks in between (and repeated ticks)
        for i, usd_micros in enumerate([4_000_000, 1_500_000, 3_000_000, 1_500_000]):
            spend(sched.ledger, usd_micros, key=f"s{i}")
            clock.advance(30)
            fired += sched.tick().alerts
            fired += sched.tick().alerts
        # Then each threshold fired exactly once, in order, and each reached the webhook
        assert fired == ["threshold:50", "threshold:80", "threshold:100"]
        assert wait_for(lambda: len(hook.received) == 3, timeout_s=5)
        bodies = [x["body"] for x in hook.received]
        assert [b["alert"] for b in bodies] == fired
        assert bodies[2]["pct"] == 100 and bodies[2]["ceiling_usd"] == 10.0
        assert set(r.hkeys(keys.alerts(sched.ledger.day()))) == set(fired)
        # And a second scheduler (a new leader) does not fire them again
        sched.close()
        other, _ = scheduler(settings, clock, r)
        assert other.tick().alerts == []


def test_velocity_spike_pauses_the_tenant_and_names_it(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given two tenants spending steadily for an hour, sampled by the scheduler every minute
    settings = make_settings(
        namespace,
        daily_ceiling_usd="100",
        tenant_daily_cap_usd="20",
        user_daily_cap_usd="20",
        pacing="off",
    )
    clock = clock_at(settings, 9)
    sched, _ = scheduler(settings, clock, r)
    for minute in range(70):
        spend(sched.ledger, 5_000, tenant="acme", key=f"a{minute}")
        spend(sched.ledger, 5_000, tenant="globex", key=f"g{minute}")
        assert sched.tick().alerts == []
        clock.advance(60)
    # When acme suddenly spends $3 in ten minutes (its usual is $0.05; floor $2 = 10% of cap)
    for minute in range(10):
        spend(sched.ledger, 300_000, tenant="acme", user=f"x{minute}", key=f"spike{minute}")
        spend(sched.ledger, 5_000, tenant="globex", key=f"g-late{minute}")
        report = sched.tick()
        clock.advance(60)
        if report.alerts:
            break
    # Then acme, and only acme, is paused, and the alert names it
    assert report.alerts == ["velocity:acme"]
    paused = r.hget(keys.caps, "paused:tenant:acme")
    assert paused is not None and int(paused) > int(clock.now_s() * 1000)
    assert r.hget(keys.caps, "paused:tenant:globex") is None
    # And admission honours the pause for acme while globex goes on
    assert admit(sched.ledger, "acme-next", tenant="acme", user="z").reason == "tenant_paused"
    assert admit(sched.ledger, "globex-next", tenant="globex", user="z").kind == "admit"


def test_the_alert_webhook_goes_through_the_outbound_guard(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    with CallbackReceiver() as hook:
        # Given an alert webhook on loopback and private networks not allowed
        settings = make_settings(
            namespace,
            daily_ceiling_usd="10",
            tenant_daily_cap_usd="10",
            user_daily_cap_usd="10",
            alert_webhook_url=hook.url,
            allow_private_networks="false",
        )
        clock = clock_at(settings, 10)
        sched, _ = scheduler(settings, clock, r)
        # When a threshold fires
        spend(sched.ledger, 6_000_000, key="s")
        assert sched.tick().alerts == ["threshold:50"]
        sched.close()
        # Then it is recorded (and logged) but never posted to the internal address
        time.sleep(0.3)
        assert hook.received == []
