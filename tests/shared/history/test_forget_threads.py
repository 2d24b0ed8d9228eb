"""`paceline forget` in Redis: a forgotten requester's conversation threads are deleted with
their replies; other requesters' and other tenants' threads are untouched."""

from __future__ import annotations

import redis

from producers.enqueue import Intake
from shared.broker import build_broker
from shared.clock import ManualClock
from shared.history.forget import forget_in_redis
from shared.keys import Keys
from shared.models import Lane, Ticket
from tests.conftest import make_settings

NOW_S = 1_795_000_000.0


def test_forget_deletes_the_requesters_threads_only(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    settings = make_settings(namespace)
    broker = build_broker(settings)
    intake = Intake(broker=broker, client=r, keys=keys, clock=ManualClock(NOW_S),
                    dedupe_window_s=600)  # fmt: skip
    # Given three conversations: u-1 and u-2 of acme, u-1 of globex
    made = []
    for tenant, requester, tid in (
        ("acme", "u-1", "A"),
        ("acme", "u-2", "B"),
        ("globex", "u-1", "C"),
    ):
        doc = {"event_id": f"e-{tid}", "ticket_id": tid, "tenant_id": tenant,
               "requester": {"id": requester}, "body": "my address is 1 Main St"}  # fmt: skip
        t = Ticket.model_validate(doc)
        intake.submit(t, Lane.LIVE)
        made.append(t.key)
    broker.close()
    assert all(r.exists(keys.thread(k)) for k in made)
    # When acme's u-1 is forgotten
    forget_in_redis(r, keys, "acme", "u-1", "p-alias")
    # Then only their thread is gone
    assert [bool(r.exists(keys.thread(k))) for k in made] == [False, True, True]
