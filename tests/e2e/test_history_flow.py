"""Tickets answered by a real worker through the simulator end in the history database: their
model calls with tokens (what the books spent, to the micro-dollar), their outcomes and their
thread; a cap change and a dead letter's life too."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import func, select

from shared.clock import SystemClock
from shared.history.database import make_engine
from shared.history.migrate import upgrade
from shared.history.reports import day_total
from shared.history.schema import (
    cap_changes,
    dead_letters,
    model_calls,
    thread_messages,
    ticket_outcomes,
)
from shared.stores.dead_letters import DeadLetter
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import WebhookServer, generic_ticket, sign_generic, wait_for
from tests.shared.history.conftest import drain, make_archiver
from workers.runtime import RunningWorker

SECRET = "e2e-history-secret-5c7a"


def test_answered_tickets_land_in_the_history_matching_the_books(
    namespace: str, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    settings = make_settings(
        namespace, llm_base_url=simulator.base_url, llm_api_key="sk-test-e2e",
        webhook_secret_generic=SECRET, database_url=f"sqlite:///{tmp_path / 'h.db'}",
    )  # fmt: skip
    with WebhookServer(settings) as app, RunningWorker(settings, threads=2) as worker:
        # Given three tickets answered end to end
        for n in (1, 2, 3):
            body = json.dumps(generic_ticket(n)).encode()
            resp = httpx.post(f"{app.url}/webhooks/generic", content=body,
                              headers=sign_generic(SECRET, body))  # fmt: skip
            assert resp.status_code == 202, resp.text
        store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)
        assert wait_for(lambda: store.summary()["pending"] == 0 and store.summary()["total"] == 3,
                        timeout_s=60)  # fmt: skip
        client, ledger = worker.ctx.redis, worker.ctx.ledger
        # And an operator's cap change and a dead letter recorded then purged
        from shared.budget_status import set_cap

        set_cap(ledger, "tenant:acme", "12.5", who="ops", note="launch")
        registry = worker.ctx.dead_letters
        dl = DeadLetter(ticket_id="T-9", event_id="e9", tenant_id="acme", lane="live",
                        reason="invalid_ticket", error="x", failed_at_ms=ledger.now_ms(),
                        ticket={"requester": {"id": "u-9"}})  # fmt: skip
        registry.record(dl)
        assert registry.claim(dl, "purged")
        day = ledger.day()
        books = ledger.day_books()["spent"]
    # When the archiver drains the stream
    engine = make_engine(settings)
    upgrade(engine)
    arch = make_archiver(settings, client, engine, SystemClock())
    arch.ensure_group()
    written, rejected = drain(arch)
    assert rejected == 0 and written > 0
    # Then each model call is a row with its tokens and model, and they sum to the books
    with engine.connect() as conn:
        calls = conn.execute(select(model_calls)).all()
        outcomes = conn.execute(select(ticket_outcomes)).all()
        messages = conn.execute(select(func.count()).select_from(thread_messages)).scalar_one()
        cap = conn.execute(select(cap_changes)).one()
        dead = conn.execute(select(dead_letters)).one()
    assert calls and all(c.prompt_tokens > 0 and c.completion_tokens > 0 for c in calls)
    assert {c.ticket_id for c in calls} == {"T-1", "T-2", "T-3"}
    assert {c.lane for c in calls} == {"live"}
    assert all(c.model for c in calls)
    assert day_total(engine, date.fromisoformat(day))[0] == books["global"] > 0
    # And the outcomes, each with the customer's message and the reply
    assert sorted(o.ticket_id for o in outcomes) == ["T-1", "T-2", "T-3"]
    assert messages == 6
    # And the cap change and the dead letter with how it left
    assert (cap.scope, cap.new_micros, cap.who, cap.note) == (
        "tenant:acme", 12_500_000, "ops", "launch"
    )  # fmt: skip
    assert (dead.entry_id, dead.removed_how, dead.requester) == (dl.entry_id, "purged", "u-9")
    engine.dispose()
