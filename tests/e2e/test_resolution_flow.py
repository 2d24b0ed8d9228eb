"""A resolution counted when the window closes, through the real stack: a signed webhook, the
worker, the agent on the simulator over HTTP, the callback; then the scheduler on the
injected clock, the summary command, and the metrics."""

from __future__ import annotations

import json
import time

import httpx
import redis
from prometheus_client import CollectorRegistry

from shared.clock import ManualClock, budget_day
from shared.conversation.resolutions import Resolutions
from shared.keys import Keys
from shared.metrics import Metrics
from shared.models import OutcomeStatus
from shared.stores.gauges import StateGauges
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import (
    CallbackReceiver,
    WebhookServer,
    generic_ticket,
    sign_generic,
    tkey,
    wait_for,
)
from tests.shared.cli.helpers import clean_env, paceline
from workers.runtime import RunningWorker
from workers.scheduler import Scheduler

SECRET = "e2e-webhook-secret-4b8c"
TICKETS = {
    "T-1": "Where is my order? It has not arrived yet.",
    "T-2": "This is unacceptable, I want to talk to a human about my refund.",
    "T-3": "How do I reset my password?",
}


def test_a_resolution_is_counted_when_the_window_closes(
    namespace: str, r: redis.Redis, simulator: SimulatorProcess
) -> None:
    settings = make_settings(
        namespace,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-test-e2e",
        webhook_secret_generic=SECRET,
        resolution_window_h=24,
    )
    keys = Keys(namespace)
    clock = ManualClock(time.time())
    answered_day = budget_day(clock.now_s(), settings.tz)
    with (
        CallbackReceiver() as callback,
        WebhookServer(settings) as app,
        RunningWorker(settings, threads=2, clock=clock) as worker,
    ):
        # Given three tickets posted by the ticketing system, one asking for a person
        for n, (ticket_id, body_text) in enumerate(TICKETS.items(), start=1):
            doc = generic_ticket(n, ticket_id=ticket_id, body=body_text, subject=body_text[:30],
                                 callback_url=callback.url)  # fmt: skip
            body = json.dumps(doc).encode()
            resp = httpx.post(
                f"{app.url}/webhooks/generic", content=body, headers=sign_generic(SECRET, body)
            )
            assert resp.status_code == 202, resp.text
        store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)

        def all_final() -> bool:
            found = [store.get(tkey(t)) for t in TICKETS]
            return all(o is not None and o.status.is_final for o in found)

        assert wait_for(all_final, timeout_s=60)
        assert wait_for(lambda: len(callback.received) == 3, timeout_s=10)

    statuses = {t: store.get(tkey(t)).status for t in TICKETS}  # type: ignore[union-attr]
    assert statuses == {"T-1": OutcomeStatus.ANSWERED, "T-2": OutcomeStatus.ESCALATED,
                        "T-3": OutcomeStatus.ANSWERED}, statuses  # fmt: skip
    spent = sum(store.get(tkey(t)).cost_micros for t in TICKETS)  # type: ignore[union-attr]
    assert spent > 0
    res = Resolutions(r, keys)
    states = {t: res.get(tkey(t)).state for t in TICKETS}  # type: ignore[union-attr]
    assert states == {"T-1": "awaiting", "T-2": "unresolved", "T-3": "awaiting"}

    # When a day passes on the injected clock with no customer message, and the scheduler ticks
    sched = Scheduler(settings, clock=clock, client=r, enqueue=lambda _m: None)
    clock.advance(24 * 3600 - 60)
    assert sched.tick().resolved == 0
    clock.advance(60)
    assert sched.tick().resolved == 2
    assert sched.tick().resolved == 0  # once
    closed_day = budget_day(clock.now_s(), settings.tz)

    # Then the summary counts them: 2 of 3 decided, all spend over the 2 resolutions
    done = paceline("outcomes", "summary", "--json", "--day", closed_day, "--days", "2",
                    "--tenant", "acme", env=clean_env(namespace))  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["resolutions"] == 2 and doc["resolution_rate"] == round(2 / 3, 4)
    assert doc["resolved_by"] == {"window": 2} and doc["awaiting"] == 0
    assert doc["cost_per_resolution_micros"] == spent // 2
    assert doc["median_messages_to_resolution"] == 2
    assert doc["days"] == [answered_day, closed_day]
    # Another tenant sees none of it
    other = paceline("outcomes", "summary", "--json", "--day", closed_day, "--days", "2",
                     "--tenant", "globex", env=clean_env(namespace))  # fmt: skip
    assert json.loads(other.stdout)["resolutions"] == 0
    # And the text beside the commercial figure
    text = paceline("outcomes", "summary", "--day", closed_day, "--days", "2",
                    env=clean_env(namespace)).stdout  # fmt: skip
    assert "2 resolved" in text and "commercial agents charge $0.99" in text
    # And, for all tenants, each tenant's row
    every = paceline("outcomes", "summary", "--json", "--day", closed_day, "--days", "2",
                     env=clean_env(namespace))  # fmt: skip
    assert json.loads(every.stdout)["by_tenant"]["acme"]["resolutions"] == 2

    # And the metrics on the closing day (the scheduler's state gauges, on its clock)
    metrics = Metrics(CollectorRegistry())
    StateGauges(settings, r, clock=clock).apply(metrics)
    assert metrics.registry.get_sample_value("paceline_resolutions", {"scope": "tenant:acme"}) == 2
    assert metrics.registry.get_sample_value("paceline_resolutions_awaiting") == 0
