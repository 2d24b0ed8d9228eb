"""Every key the system writes is in `shared/keys.py`'s table.

The whole flow runs against one namespace (a signed webhook -> worker -> simulator -> outcome
and callback, a park on a requester's cap, a dead letter, its redrive, a replay, the
scheduler's ticks, a scrape of the state gauges); then the namespace is SCANned and every key
must match a line of `KEY_TABLE`. A new key without its line fails here.
"""

from __future__ import annotations

import json

import dramatiq
import httpx
import redis

from producers.redrive import Redrive
from producers.replay.replayer import Replayer, ReplayFilter, ReplaySummary
from producers.replay.source import Record
from shared.broker import queue_prefix
from shared.budget_status import set_cap
from shared.clock import SystemClock
from shared.keys import KEY_TABLE, Keys, describe
from shared.messages import HANDLE_TICKET
from shared.metrics_server import build_metrics
from shared.models import Lane, OutcomeStatus, Ticket
from shared.stores.dead_letters import DLQFilter
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import (
    CallbackReceiver,
    WebhookServer,
    generic_ticket,
    sign_generic,
    tkey,
    wait_for,
    worker_intake,
)
from workers.runtime import RunningWorker
from workers.scheduler import Scheduler

SECRET = "keys-webhook-secret-2e6f"


def test_every_key_written_is_in_the_table(
    namespace: str, private_simulator: SimulatorProcess, r: redis.Redis
) -> None:
    sim = private_simulator
    settings = make_settings(
        namespace,
        llm_base_url=sim.base_url,
        llm_api_key="sk-test",
        webhook_secret_generic=SECRET,
        max_retries=0,
    )
    keys = Keys(namespace)
    clock = SystemClock()
    with (
        CallbackReceiver() as callback,
        WebhookServer(settings) as app,
        RunningWorker(settings, threads=2) as worker,
    ):
        ctx = worker.ctx

        def post(doc: dict[str, object]) -> None:
            body = json.dumps(doc).encode()
            resp = httpx.post(
                f"{app.url}/webhooks/generic", content=body, headers=sign_generic(SECRET, body)
            )
            assert resp.status_code == 202, resp.text

        def status(ticket_id: str, tenant: str = "acme") -> OutcomeStatus | None:
            outcome = ctx.outcomes.get(tkey(ticket_id, tenant))
            return None if outcome is None else outcome.status

        # A ticket answered through the webhook, with its reply called back
        post(generic_ticket(1, callback_url=callback.url))
        assert wait_for(lambda: status("T-1") is OutcomeStatus.ANSWERED)
        assert wait_for(lambda: len(callback.received) == 1)
        # A requester over their cap: parked with an acknowledgement
        set_cap(ctx.ledger, "user:acme:u-poor", "0.000001", who="test")
        post(generic_ticket(2, requester={"id": "u-poor"}))
        assert wait_for(lambda: status("T-2") is OutcomeStatus.PARKED)
        # A provider that refuses for good: dead-lettered; then redriven once it recovers
        sim.faults(error_rate=1.0, error_kind="insufficient_quota")
        post(generic_ticket(3, requester={"id": "u-3"}))
        assert wait_for(lambda: status("T-3") is OutcomeStatus.DEAD_LETTERED)
        sim.faults(error_rate=0.0)
        redrive = Redrive(settings, r, keys, clock, ctx.prices, queue_prefix=queue_prefix(settings))
        assert redrive.requeue(worker.broker, [], DLQFilter()).requeued == 1
        assert wait_for(lambda: status("T-3") is OutcomeStatus.ANSWERED)
        # A replay of history, in its own lane, with its checkpoint
        replayer = Replayer(client=r, keys=keys, clock=clock, intake=worker_intake(worker))
        ticket = Ticket.model_validate(generic_ticket(4, requester={"id": "u-4"}))
        replayer.run(
            iter([Record(line_no=1, end_offset=100, ticket=ticket)]),
            ReplaySummary(name="keys", file="history.jsonl", dry_run=False),
            name="keys",
            filt=ReplayFilter(),
        )
        assert wait_for(lambda: status("T-4") is OutcomeStatus.ANSWERED)
        # A poison message: dead-lettered by the actor, left in the registry
        worker.broker.enqueue(
            dramatiq.Message(
                queue_name=Lane.LIVE.queue_name,
                actor_name=HANDLE_TICKET,
                args=({"ticket_id": "P-1"},),
                kwargs={"lane": "live"},
                options={},
            )
        )
        # (it names no tenant: its outcome is under the empty one)
        assert wait_for(lambda: status("P-1", tenant="") is OutcomeStatus.DEAD_LETTERED)
        # The scheduler's ticks (lease, fence, pace, alerts, spend samples, sweep)
        scheduler = Scheduler(settings, clock=clock, client=r)
        for _ in range(2):
            assert scheduler.tick().leader
        scheduler.close()
        # A scrape of the state gauges (spend samples for the ops chart)
        build_metrics(settings, client=r, clock=clock, state=True, refresh_s=0).registry.collect()

    # Then every key in the namespace is described by a line of the table
    found = sorted(r.scan_iter(match=f"{namespace}:*", count=1000))
    unknown = [key for key in found if describe(key, namespace) is None]
    assert not unknown, f"keys not in shared/keys.py's KEY_TABLE: {unknown}"
    # And the flow reached most of the table (the check is not vacuous)
    used = {describe(key, namespace) for key in found}
    assert len(used) >= 22, sorted(spec.template for spec in KEY_TABLE if spec not in used)
    for family in ("ticket:", "dlq:", "parked", "ledger:", "res:", "dq:", "callback:", "replay:"):
        assert any(key.startswith(f"{namespace}:{family}") for key in found), family
