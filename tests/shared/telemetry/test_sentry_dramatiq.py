"""A real dramatiq worker on the real Redis: an actor fails on a ticket; Sentry gets no text."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dramatiq
import sentry_sdk
from dramatiq import Worker

from shared.broker import build_broker
from shared.settings import Settings
from tests.shared.telemetry.dsn_server import SentryStandIn

TICKET = {
    "ticket_id": "T-9",
    "tenant_id": "acme",
    "requester": {"id": "u-1", "email": "bob.secret@example.org", "name": "Bob Quill"},
    "subject": "Espresso machine leaking water everywhere",
    "body": "Since Tuesday the espresso machine leaks from the bottom valve when heating.",
}


def test_failing_actor_event_has_no_ticket_text(
    sentry_on: Callable[..., Settings], sentry_server: SentryStandIn
) -> None:
    # Given Sentry started before the broker (as the entry points must), and an actor that
    # fails quoting the ticket it was given
    settings = sentry_on()
    broker = build_broker(settings)

    def explode(ticket: dict[str, Any]) -> None:
        raise RuntimeError(f"agent could not answer: {ticket['body'][:60]}")

    actor = dramatiq.actor(explode, broker=broker, actor_name="explode", queue_name="tele")
    worker = Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        # When the ticket is processed
        actor.send(TICKET)
        events = sentry_server.wait_for_events(1, timeout_s=10)
    finally:
        worker.stop()
        broker.close()
    sentry_sdk.flush(timeout=5)
    events = sentry_server.events()

    # Then the failure was reported, with neither the message nor any quote of the ticket
    assert events, "the actor's failure was not reported"
    failures = [e for e in events if e.get("exception")]
    assert any(e["exception"]["values"][-1]["type"] == "RuntimeError" for e in failures)
    for event in events:
        assert "data" not in event["contexts"].get("dramatiq", {})
    text = sentry_server.all_bytes().decode("utf-8", errors="replace")
    assert "[ticket text]" in text
    assert not re.search(r"[\w.+-]+@[\w-]+\.[a-z]{2,}", text)
    for fragment in ("espresso", "Espresso", "bottom valve", "Bob Quill", "bob.secret"):
        assert fragment not in text, fragment
