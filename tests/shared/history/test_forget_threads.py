"""`paceline forget` in Redis: a forgotten requester's conversation threads are deleted with
their replies; other requesters' and other tenants' threads are untouched."""

from __future__ import annotations

import json

import redis

from producers.enqueue import Intake
from shared.broker import build_broker
from shared.clock import ManualClock
from shared.history.forget import erase_rejects, forget_in_redis
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


def test_forget_deletes_the_requesters_set_aside_history_entries_only(
    r: redis.Redis, keys: Keys
) -> None:
    # Given entries the archiver set aside: acme's u-1 (a call, an outcome document), acme's
    # u-2, globex's u-1, and one too broken to read that names nobody
    def reject(fields: dict[str, str]) -> None:
        doc = {"id": "1-0", "reason": "refused: x", "at_ms": 1, "fields": fields}
        r.lpush(keys.history_rejects, json.dumps(doc, sort_keys=True))

    reject({"k": "call", "tenant": "acme", "requester": "u-1", "cost": "-5"})
    outcome = {"tenant_id": "acme", "requester_id": "u-1", "reply": "your address is 1 Main St"}
    reject({"k": "outcome", "doc": json.dumps(outcome)})
    reject({"k": "call", "tenant": "acme", "requester": "u-2", "cost": "-5"})
    reject({"k": "call", "tenant": "globex", "requester": "u-1", "cost": "-5"})
    reject({"k": "outcome", "doc": "{not json"})
    # When acme's u-1 is forgotten
    erased = erase_rejects(r, keys, "acme", "u-1")
    # Then their two entries are gone and the others stay
    assert erased == 2
    left = [json.loads(x)["fields"] for x in r.lrange(keys.history_rejects, 0, -1)]
    assert sorted(f.get("tenant", "-") + "/" + f.get("requester", "-") for f in left) == [
        "-/-",
        "acme/u-2",
        "globex/u-1",
    ]
    assert not any("1 Main St" in json.dumps(f) for f in left)
